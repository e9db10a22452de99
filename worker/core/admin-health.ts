/**
 * The operator's view of the whole system, for GET /admin/health: storage
 * (D1 and R2 probes), JobBoard depth, bridges online per account, accounts by
 * status and the volume of stored media. Each part is read on its own, so one
 * failing dependency shows up as its own null instead of failing the report.
 */
import { count, isNull, sql, sum } from "drizzle-orm";
import { database } from "../db/client";
import { ACCOUNT_STATUSES, type AccountStatus, artifacts, capacityAccounts } from "../db/schema";
import { type AccountLiveness, type BoardDepth, livenessByAccount, readBoards } from "./accounts/liveness";
import { type Check, checkDependencies } from "./health";

export interface SystemHealth {
  storage: { database: Check; r2: Check };
  boards: BoardDepth[] | null;
  liveness: Map<string, AccountLiveness> | null;
  accountsByStatus: Record<AccountStatus, number> | null;
  media: { artifacts: number; bytes: number } | null;
}

export async function systemHealth(env: Env): Promise<SystemHealth> {
  const db = database(env.DB);
  const [storage, boards, statuses, media] = await Promise.all([
    checkDependencies(env),
    settle(readBoards(env)),
    settle(
      db
        .select({ status: capacityAccounts.status, n: count() })
        .from(capacityAccounts)
        .groupBy(capacityAccounts.status),
    ),
    settle(
      db
        .select({ artifacts: count(), bytes: sql<number>`coalesce(${sum(artifacts.sizeBytes)}, 0)` })
        .from(artifacts)
        .where(isNull(artifacts.deletedAt)),
    ),
  ]);
  return {
    storage: { database: storage.database, r2: storage.storage },
    boards,
    liveness: boards ? livenessByAccount(boards) : null,
    accountsByStatus: statuses
      ? (Object.fromEntries(
          ACCOUNT_STATUSES.map((status) => [status, statuses.find((row) => row.status === status)?.n ?? 0]),
        ) as Record<AccountStatus, number>)
      : null,
    media: media?.[0] ? { artifacts: media[0].artifacts, bytes: Number(media[0].bytes) } : null,
  };
}

/** The value, or null (logged) if reading it failed. */
async function settle<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work;
  } catch (error) {
    console.error(JSON.stringify({ level: "error", check: "admin_health", error: String(error) }));
    return null;
  }
}
