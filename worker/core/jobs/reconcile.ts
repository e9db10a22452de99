/**
 * The reconciler's sweep: jobs written to D1 but never boarded (both hand-offs
 * failed), and claimed jobs whose lease ended long ago in D1's view (their
 * board is asked again; enqueue is a no-op for a job it holds, and expires the
 * lease if due, or re-boards a job the board lost).
 */
import { and, asc, eq, isNull, lt } from "drizzle-orm";
import { configFrom } from "../../config";
import { database } from "../../db/client";
import { jobs } from "../../db/schema";
import { byBoard } from "./boards";
import { type HandOff, handOff, loadBoardJobs, markBoarded } from "./dispatch";
import { projectJobEvents } from "./projection";

const SWEEP_LIMIT = 100;

export interface SweepReport {
  /** Jobs a board did not hold and now does. */
  reboarded: string[];
  /** Jobs that could not be handed over (retried next sweep) or can no longer run (failed). */
  failed: string[];
}

export async function sweep(env: Env, now = Date.now(), via: Pick<HandOff, "toBoard"> = handOff): Promise<SweepReport> {
  const db = database(env.DB);
  const graceMs = configFrom(env).RECONCILE_GRACE_S * 1000;
  const cutoff = new Date(now - graceMs);
  const [unboarded, stale] = await Promise.all([
    db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.status, "pending"), isNull(jobs.boardedAt), lt(jobs.createdAt, cutoff)))
      .orderBy(asc(jobs.createdAt))
      .limit(SWEEP_LIMIT),
    db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.status, "claimed"), lt(jobs.lockedUntil, cutoff)))
      .orderBy(asc(jobs.lockedUntil))
      .limit(SWEEP_LIMIT),
  ]);
  const report: SweepReport = { reboarded: [], failed: [] };
  const loaded = await loadBoardJobs(
    db,
    [...unboarded, ...stale].map((row) => row.id),
  );
  // A job that can no longer run fails with its reason; it must not block the sweep for good.
  await projectJobEvents(env, loaded.unrunnable);
  report.failed.push(...loaded.unrunnable.map((event) => event.jobId));
  const confirmed: string[] = [];
  await Promise.all(
    byBoard(loaded.jobs).map(async (group) => {
      const ids = group.map((job) => job.id);
      try {
        const { added } = await via.toBoard(env, group);
        confirmed.push(...ids);
        // A board that already held a job (and has now expired its lease if due) repaired nothing.
        report.reboarded.push(...ids.filter((_, i) => added[i] !== false));
      } catch (error) {
        report.failed.push(...ids);
        console.error(JSON.stringify({ level: "warn", reconcile_failed: ids, error: String(error) }));
      }
    }),
  );
  await markBoarded(db, confirmed, now);
  return report;
}
