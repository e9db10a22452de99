/**
 * Agents are GPU bridges: a principal of kind "agent" in a capacity account,
 * plus a scoped bearer token shown once at creation.
 */
import { and, desc, eq } from "drizzle-orm";
import type { RegisterAgent } from "../contracts/agent-protocol";
import { AGENT_SCOPES, type Scope } from "../contracts/scopes";
import type { Database } from "../db/client";
import { agentRegistrations } from "../db/schema";
import { ApiError } from "../errors/api-error";
import { findAccount } from "./accounts/status";
import { issueCredential } from "./credentials";
import { createAgent } from "./principals";

export async function enrollAgent(
  db: Database,
  input: { name: string; capacityAccountId: string; scopes?: Scope[] },
): Promise<{ agentId: number; token: string; scopes: Scope[]; capacityAccountId: string }> {
  const account = await findAccount(db, input.capacityAccountId);
  // A disabled account's agents are disabled (accounts/agents.ts); a new one must not slip past that.
  if (account.status === "disabled") {
    throw new ApiError("state_conflict", `Capacity account ${account.id} is disabled: enable it first`);
  }
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

export type Registration = typeof agentRegistrations.$inferSelect;

/** Registrations never change once written (a bridge re-registers under a new id), so caching them is safe. */
const registrationCache = new Map<string, Registration>();
/** Bridges come and go (each start is a new registration): the cache keeps the latest this many. */
const REGISTRATION_CACHE_LIMIT = 1000;

/** A Map keeps insertion order, so its first key is the oldest entry. */
function cacheRegistration(row: Registration): void {
  if (registrationCache.size >= REGISTRATION_CACHE_LIMIT) {
    const oldest = registrationCache.keys().next();
    if (!oldest.done) registrationCache.delete(oldest.value);
  }
  registrationCache.set(row.id, row);
}

/** Contract 003 POST /agents/register: one row per bridge process start. */
export async function registerBridge(db: Database, principalId: number, input: RegisterAgent): Promise<Registration> {
  const [row] = await db
    .insert(agentRegistrations)
    .values({
      id: crypto.randomUUID(),
      principalId,
      name: input.agent_name,
      version: input.agent_version,
      platform: input.platform,
      capabilities: [...new Set(input.capabilities)],
      maxParallelJobs: input.max_parallel_jobs,
    })
    .returning();
  if (!row) throw new Error("registration insert returned no row");
  cacheRegistration(row);
  return row;
}

/**
 * The registration a call speaks for: the one named in X-Agent-Id (it must be
 * the caller's own), or else the caller's latest.
 */
export async function findRegistration(
  db: Database,
  principalId: number,
  agentId: string | undefined,
): Promise<Registration | undefined> {
  if (agentId) {
    const cached = registrationCache.get(agentId);
    if (cached) return cached.principalId === principalId ? cached : undefined;
    const [row] = await db
      .select()
      .from(agentRegistrations)
      .where(and(eq(agentRegistrations.id, agentId), eq(agentRegistrations.principalId, principalId)))
      .limit(1);
    if (row) cacheRegistration(row);
    return row;
  }
  const [latest] = await db
    .select()
    .from(agentRegistrations)
    .where(eq(agentRegistrations.principalId, principalId))
    .orderBy(desc(agentRegistrations.createdAt))
    .limit(1);
  return latest;
}
