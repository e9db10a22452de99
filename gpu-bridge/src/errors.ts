/**
 * The bridge's error kinds. Each one tells the caller what to do next: retry
 * the call (NetworkError, a transient ApiError), drop the job (LeaseLostError),
 * report the job failed (JobError) or stop the process (FatalError).
 */

/** The Worker answered with an error status; code and retryable come from its contract-003 body when it had one. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    /** From Retry-After, when the Worker sent one. */
    readonly retryAfterMs: number | undefined,
    readonly correlationId: string | undefined,
  ) {
    super(message);
  }
}

/** No HTTP answer at all (refused, reset, timed out): the Worker may be restarting. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

/** A 2xx answer whose body does not match the agent protocol: the Worker and bridge disagree. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/** Nothing this process can do will fix it (bad token, missing scope): stop and say so. */
export class FatalError extends Error {
  override readonly name = "FatalError";
}

/** Our lease on a job is gone; another agent may hold it now, so nothing more may be sent for it. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/** The bridge is stopping and did not let this job finish. */
export class ShutdownError extends Error {
  override readonly name = "ShutdownError";
}

/**
 * A job failed for a reason its handler understood. `retryable` is what the
 * server is told: false when another attempt would fail the same way (bad input
 * media), true when it might not (I/O, a missing tool on this host).
 */
export class JobError extends Error {
  override readonly name = "JobError";
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Worth asking again later: no answer, a server-side error, throttling or a request timeout. */
export function isTransient(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  if (!(error instanceof ApiError)) return false;
  return error.status >= 500 || error.status === 429 || error.status === 408;
}

/** 423 LOCK_* or 409 STATE_CONFLICT on a job call: our token is no longer the job's current one. */
export function isLeaseLost(error: unknown): error is ApiError {
  return error instanceof ApiError && (error.status === 423 || error.status === 409);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
