/**
 * Who could run a generation now, and whether the caller may start another.
 * Capacity is what the JobBoards saw: only bridges declaring a job type's
 * capabilities poll its boards, so an agent a board heard from within
 * AGENT_ALIVE_S is a live bridge able to start its jobs — one call per shard,
 * no D1 read. `free`: one of them holds fewer jobs than it may, so a job
 * handed to its board directly starts at its next poll; with every bridge
 * busy the job would wait on the board anyway, and the queue boards it, in
 * batches, for less.
 *
 * An answer with a live bridge is remembered in this isolate for
 * LIVE_MEMORY_MS (a bridge alive a second ago is as good a sign as one alive
 * now: the boards themselves allow AGENT_ALIVE_S), so a burst of requests asks
 * the boards about once a second; "none" is never remembered, so a bridge that
 * has just come up is seen at once (and a task failed for want of a bridge is
 * failed at most a second late).
 */
import { and, eq, gte, inArray, or, sql } from "drizzle-orm";
import type { JobType } from "../../contracts/job-types";
import type { Database, PrincipalRow } from "../../db/client";
import { tasks } from "../../db/schema";
import { ApiError } from "../../errors/api-error";
import { boardsOf } from "../jobs/boards";

const DAY_MS = 24 * 3600_000;
const LIVE_MEMORY_MS = 1000;

export interface Capacity {
  live: boolean;
  free: boolean;
}

const remembered = new Map<JobType, { at: number; capacity: Capacity }>();

export async function capacityFor(env: Env, jobType: JobType, now = Date.now()): Promise<Capacity> {
  const known = remembered.get(jobType);
  if (known && now >= known.at && now - known.at < LIVE_MEMORY_MS) return known.capacity;
  const boards = await Promise.all(boardsOf(env, [jobType]).map((board) => board.presence(now)));
  const capacity = {
    live: boards.some((board) => board.alive > 0),
    free: boards.some((board) => board.free > 0),
  };
  if (capacity.live) remembered.set(jobType, { at: now, capacity });
  else remembered.delete(jobType);
  return capacity;
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
