/**
 * The capacity-account status machine, and the only code that writes
 * `capacity_accounts.status`. Every move is a compare-and-set on the status it
 * was read in, so of two concurrent deploys exactly one moves the account to
 * `checking` and the other gets 409.
 *
 *   pending ─▶ checking ─▶ deploying ─▶ ready        (deploy; a bridge's heartbeat)
 *                  │            │          │
 *                  └──▶ failed ◀┘          └─▶ checking (redeploy)
 *   deploying ─▶ checking (redeploy: its bridge never came)
 *   failed ─▶ checking (redeploy) | ready (one of its bridges heartbeats after all)
 *   any but disabled ─▶ disabled ─▶ pending (enable)
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Database } from "../../db/client";
import { ACCOUNT_STATUSES, type AccountStatus, capacityAccounts } from "../../db/schema";
import { ApiError } from "../../errors/api-error";
import type { AccountPatch } from "./store";

export type AccountRow = typeof capacityAccounts.$inferSelect;

const NEXT: Record<AccountStatus, readonly AccountStatus[]> = {
  pending: ["checking", "disabled"],
  checking: ["deploying", "failed", "disabled"],
  deploying: ["ready", "checking", "failed", "disabled"],
  ready: ["checking", "disabled"],
  failed: ["checking", "ready", "disabled"],
  disabled: ["pending"],
};

/** The statuses from which `to` may be reached. */
function statusesBefore(to: AccountStatus): AccountStatus[] {
  return ACCOUNT_STATUSES.filter((from) => NEXT[from].includes(to));
}

export async function findAccount(db: Database, id: string): Promise<AccountRow> {
  const [row] = await db.select().from(capacityAccounts).where(eq(capacityAccounts.id, id)).limit(1);
  if (!row) throw new ApiError("not_found", `No capacity account ${id}`);
  return row;
}

/**
 * Moves `account` (as last read) to `to`, writing `patch` with it. A move the
 * machine forbids, or one that lost a race with another writer, is 409.
 */
export async function moveAccount(
  db: Database,
  account: AccountRow,
  to: AccountStatus,
  patch: AccountPatch = {},
  now = Date.now(),
): Promise<AccountRow> {
  if (!NEXT[account.status].includes(to)) {
    throw new ApiError("state_conflict", `Account ${account.id} is ${account.status}; it cannot become ${to}`, {
      details: { status: account.status, allowed: NEXT[account.status] },
    });
  }
  const [moved] = await db
    .update(capacityAccounts)
    .set({ ...patch, status: to, statusChangedAt: new Date(now) })
    .where(and(eq(capacityAccounts.id, account.id), eq(capacityAccounts.status, account.status)))
    .returning();
  if (!moved) {
    throw new ApiError("state_conflict", `Account ${account.id} changed meanwhile; reload it and retry`);
  }
  return moved;
}

/**
 * The heartbeat promotion: one conditional UPDATE that makes the account ready
 * only from a status that may become ready. Returns whether it moved.
 */
export async function promoteToReady(db: Database, id: string, now = Date.now()): Promise<boolean> {
  const moved = await db
    .update(capacityAccounts)
    .set({ status: "ready", statusChangedAt: new Date(now), failCount: 0, lastError: null, failureType: null })
    .where(and(eq(capacityAccounts.id, id), inArray(capacityAccounts.status, statusesBefore("ready"))))
    .returning({ id: capacityAccounts.id });
  return moved.length > 0;
}
