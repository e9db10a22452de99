/**
 * Who could run a generation now, and whether the caller may start another.
 * Capacity is what the JobBoards saw: only bridges declaring a job type's
 * capabilities poll its boards, so an agent a board heard from within
 * AGENT_ALIVE_S is a live bridge able to start its jobs — one call per shard,
 * no D1 read.
 */
import { and, eq, gte, inArray, or, sql } from "drizzle-orm";
import type { JobType } from "../../contracts/job-types";
import type { Database, PrincipalRow } from "../../db/client";
import { tasks } from "../../db/schema";
import { ApiError } from "../../errors/api-error";
import { boardsOf } from "../jobs/boards";

const DAY_MS = 24 * 3600_000;

export async function liveBridges(env: Env, jobType: JobType): Promise<number> {
  const alive = await Promise.all(boardsOf(env, [jobType]).map((board) => board.liveAgents()));
  return alive.reduce((count, agents) => count + agents.length, 0);
}

/**
 * Guests carry quotas (GUEST_QUOTA_CONCURRENT, GUEST_QUOTA_DAILY): generations
 * still pending or running, and those started in the last 24 hours. Principals
 * without quotas (API-key users) cost no query.
 */
export async function checkQuota(db: Database, principal: PrincipalRow, now = Date.now()): Promise<void> {
  const { quotaConcurrent, quotaDaily } = principal;
  if (quotaConcurrent === null && quotaDaily === null) return;
  const since = new Date(now - DAY_MS);
  const active = inArray(tasks.status, ["pending", "running"]);
  const [usage] = await db
    .select({
      active: sql<number>`coalesce(sum(${active}), 0)`,
      today: sql<number>`coalesce(sum(${tasks.createdAt} >= ${since.getTime()}), 0)`,
    })
    .from(tasks)
    .where(and(eq(tasks.ownerPrincipalId, principal.id), or(active, gte(tasks.createdAt, since))));
  if (quotaConcurrent !== null && (usage?.active ?? 0) >= quotaConcurrent) {
    throw new ApiError("active_task_limit_exceeded", `At most ${quotaConcurrent} generations may run at once`, {
      details: { limit: quotaConcurrent },
    });
  }
  if (quotaDaily !== null && (usage?.today ?? 0) >= quotaDaily) {
    throw new ApiError("daily_task_limit_exceeded", `At most ${quotaDaily} generations a day`, {
      details: { limit: quotaDaily },
    });
  }
}
