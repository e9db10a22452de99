/**
 * An account's bridges authenticate as agents of the account. A deploy speaks
 * for one agent principal per account, `account:<id>` (":" is in no name a
 * user or POST /admin/agents may choose), whose token each deploy rotates.
 * Disabling an account disables every agent principal in it, which stops
 * their tokens at once (credentials.ts treats a disabled principal's
 * credentials as revoked) without a lookup on the bridges' hot path.
 */
import { and, eq, isNull } from "drizzle-orm";
import { AGENT_SCOPES } from "../../contracts/scopes";
import type { Database } from "../../db/client";
import { credentials, principals } from "../../db/schema";
import { issueCredential } from "../credentials";
import { createAgent } from "../principals";

const deployAgentName = (accountId: string) => `account:${accountId}`;

/** Issues the account's agent token, revoking any it had: the old bridges stop, the new one may start. */
export async function rotateAccountToken(
  db: Database,
  accountId: string,
  now = Date.now(),
): Promise<{ agentId: number; token: string }> {
  const name = deployAgentName(accountId);
  const [existing] = await db.select().from(principals).where(eq(principals.username, name)).limit(1);
  const agent = existing ?? (await createAgent(db, { name, capacityAccountId: accountId }));
  await db
    .update(credentials)
    .set({ revokedAt: new Date(now), revokedReason: "rotated" })
    .where(
      and(eq(credentials.principalId, agent.id), eq(credentials.kind, "agent_token"), isNull(credentials.revokedAt)),
    );
  const issued = await issueCredential(
    db,
    { principalId: agent.id, kind: "agent_token", scopes: AGENT_SCOPES, label: name },
    now,
  );
  return { agentId: agent.id, token: issued.secret };
}

/** Stops (or lets again) every agent of the account, deploy agent and enrolled ones alike. */
export async function setAccountAgentsDisabled(
  db: Database,
  accountId: string,
  disabled: boolean,
  now = Date.now(),
): Promise<void> {
  await db
    .update(principals)
    .set({ disabledAt: disabled ? new Date(now) : null })
    .where(and(eq(principals.capacityAccountId, accountId), eq(principals.kind, "agent")));
}

/** Before the account row goes: its agents are disabled for good and no longer name it. */
export function detachAccountAgents(db: Database, accountId: string, now = Date.now()) {
  return db
    .update(principals)
    .set({ disabledAt: new Date(now), capacityAccountId: null })
    .where(and(eq(principals.capacityAccountId, accountId), eq(principals.kind, "agent")));
}
