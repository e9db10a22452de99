/**
 * Which board holds a job: its type (and so its board) never changes once
 * written, so the answer is cached per isolate and a hot claim path costs one
 * D1 read per job at most.
 */
import { eq } from "drizzle-orm";
import { isJobType, type JobType } from "../../contracts/job-types";
import type { Database } from "../../db/client";
import { jobs } from "../../db/schema";

export interface JobHome {
  jobId: string;
  taskId: string;
  jobType: JobType;
}

const CACHE_LIMIT = 10_000;
const homes = new Map<string, JobHome>();

/** Listings already know each job's home: remembering it spares the claim that follows a D1 read. */
export function rememberJobHome(home: JobHome): void {
  if (homes.size >= CACHE_LIMIT) homes.clear();
  homes.set(home.jobId, home);
}

export async function findJobHome(db: Database, jobId: string): Promise<JobHome | undefined> {
  const cached = homes.get(jobId);
  if (cached) return cached;
  const [row] = await db
    .select({ taskId: jobs.taskId, jobType: jobs.jobType })
    .from(jobs)
    .where(eq(jobs.id, jobId))
    .limit(1);
  if (!row || !isJobType(row.jobType)) return undefined;
  const home = { jobId, taskId: row.taskId, jobType: row.jobType };
  rememberJobHome(home);
  return home;
}
