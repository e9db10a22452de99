/**
 * Account health from its bridges. A bridge's polls and job heartbeats are the
 * only proof it runs, so they are what makes a deployed (or failed) account
 * ready: on that hot path this costs a Map lookup, and at most once per
 * PROMOTE_EVERY_MS per account and isolate one conditional UPDATE (after the
 * response, through waitUntil) that changes nothing once the account is ready.
 * A registration clears the account's entry, so a freshly started bridge's
 * first poll is checked at once.
 *
 * Which bridges are online comes from the JobBoards, which record every
 * agent's last call (durable-objects/job-board.ts, `agents`).
 */
import { database } from "../../db/client";
import { recordAudit } from "../audit";
import { namedBoards } from "../jobs/boards";
import { promoteToReady } from "./status";

const PROMOTE_EVERY_MS = 15_000;
const lastTried = new Map<string, number>();

/** A bridge of `accountId` polled or heartbeated. */
export function bridgeHeard(
  env: Env,
  accountId: string | null,
  waitUntil: (work: Promise<unknown>) => void,
  now = Date.now(),
): void {
  if (!accountId) return;
  const last = lastTried.get(accountId);
  if (last !== undefined && now - last < PROMOTE_EVERY_MS) return;
  lastTried.set(accountId, now);
  waitUntil(
    promote(env, accountId, now).catch((error: unknown) => {
      lastTried.delete(accountId);
      console.error(JSON.stringify({ level: "warn", account_promotion_failed: accountId, error: String(error) }));
    }),
  );
}

/** A bridge of `accountId` registered: its first heartbeat is checked without waiting out the interval. */
export function bridgeRegistered(accountId: string | null): void {
  if (accountId) lastTried.delete(accountId);
}

async function promote(env: Env, accountId: string, now: number): Promise<void> {
  const db = database(env.DB);
  if (!(await promoteToReady(db, accountId, now))) return;
  await recordAudit(db, { action: "account_ready", success: true, actor: "system", target: accountId });
}

export interface BoardDepth {
  name: string;
  pending: number;
  claimed: number;
  outbox: number;
  agents: { agentId: string; capacityAccountId: string | null; lastSeen: number }[];
}

/** Every JobBoard's depth and live agents. */
export async function readBoards(env: Env): Promise<BoardDepth[]> {
  return Promise.all(
    namedBoards(env).map(async ({ name, board }) => {
      const stats = await board.stats();
      return { name, pending: stats.pending, claimed: stats.claimed, outbox: stats.outbox, agents: stats.agentsAlive };
    }),
  );
}

export interface AccountLiveness {
  bridgesOnline: number;
  lastHeartbeatAt: Date | null;
}

/** Bridges alive per account: one bridge polls many boards, so it is counted once, at its latest call. */
export function livenessByAccount(boards: BoardDepth[]): Map<string, AccountLiveness> {
  const latest = new Map<string, { account: string; lastSeen: number }>();
  for (const agent of boards.flatMap((board) => board.agents)) {
    if (!agent.capacityAccountId) continue;
    const seen = latest.get(agent.agentId);
    if (!seen || agent.lastSeen > seen.lastSeen) {
      latest.set(agent.agentId, { account: agent.capacityAccountId, lastSeen: agent.lastSeen });
    }
  }
  const byAccount = new Map<string, AccountLiveness>();
  for (const { account, lastSeen } of latest.values()) {
    const entry = byAccount.get(account) ?? { bridgesOnline: 0, lastHeartbeatAt: null };
    entry.bridgesOnline++;
    if (!entry.lastHeartbeatAt || lastSeen > entry.lastHeartbeatAt.getTime())
      entry.lastHeartbeatAt = new Date(lastSeen);
    byAccount.set(account, entry);
  }
  return byAccount;
}

/** Every account's liveness now; null (logged) when the boards could not be read. */
export async function readLiveness(env: Env): Promise<Map<string, AccountLiveness> | null> {
  try {
    return livenessByAccount(await readBoards(env));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", check: "account_liveness", error: String(error) }));
    return null;
  }
}
