/**
 * What every lease-holder route of contract 003 needs: the job's home, its
 * lock token (423 LOCK_REQUIRED when absent), and the JobBoard's refusals
 * turned into 003's codes (409 STATE_CONFLICT, 423 LOCK_INVALID, 404).
 */
import type { Lease, Refusal } from "../../../durable-objects/job-board";
import { boardFor } from "../../core/jobs/boards";
import { findJobHome, type JobHome } from "../../core/jobs/records";
import { ApiError } from "../../errors/api-error";
import { type AppContext, db } from "../../http/context";

export async function homeOf(c: AppContext, jobId: string): Promise<JobHome> {
  const home = await findJobHome(db(c), jobId);
  if (!home) throw new ApiError("not_found", "No such job");
  return home;
}

export function lockTokenOf(token: string | undefined): string {
  if (!token) throw new ApiError("lock_required", "Send the lock_token from your claim");
  return token;
}

export function refusalError(refusal: Refusal): ApiError {
  switch (refusal.reason) {
    case "not_found":
      return new ApiError("not_found", refusal.message);
    case "state_conflict":
      return new ApiError("state_conflict", refusal.message);
    case "lock_invalid":
      return new ApiError("lock_invalid", refusal.message);
  }
}

/** The caller's lease on the job, checked by its board now; refused in 003's codes otherwise. */
export async function holdLease(c: AppContext, jobId: string, token: string | undefined): Promise<Lease & JobHome> {
  const held = lockTokenOf(token);
  const home = await homeOf(c, jobId);
  const lease = await boardFor(c.env, home.jobType, jobId).lease(jobId, held);
  if (!lease.ok) throw refusalError(lease);
  return { ...lease, ...home };
}
