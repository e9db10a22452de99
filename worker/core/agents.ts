/**
 * Agents are GPU bridges: a principal of kind "agent" in a capacity account,
 * plus a scoped bearer token shown once at creation.
 */
import { eq } from "drizzle-orm";
import { AGENT_SCOPES, type Scope } from "../contracts/scopes";
import type { Database } from "../db/client";
import { capacityAccounts } from "../db/schema";
import { ApiError } from "../errors/api-error";
import { issueCredential } from "./credentials";
import { createAgent } from "./principals";

export async function enrollAgent(
  db: Database,
  input: { name: string; capacityAccountId: string; scopes?: Scope[] },
): Promise<{ agentId: number; token: string; scopes: Scope[]; capacityAccountId: string }> {
  const account = await db
    .select()
    .from(capacityAccounts)
    .where(eq(capacityAccounts.id, input.capacityAccountId))
    .limit(1);
  if (!account[0]) throw new ApiError("not_found", `No capacity account ${input.capacityAccountId}`);
  const agent = await createAgent(db, input);
  const scopes = input.scopes ?? AGENT_SCOPES;
  const issued = await issueCredential(db, {
    principalId: agent.id,
    kind: "agent_token",
    scopes,
    label: input.name,
  });
  return { agentId: agent.id, token: issued.secret, scopes, capacityAccountId: input.capacityAccountId };
}
