/**
 * Waiting and retrying. Backoff is capped exponential with jitter so that a
 * fleet of bridges that lost the Worker at the same moment (a deploy, a
 * restart) does not reconnect in lockstep.
 */
import { ApiError, isTransient } from "./errors";

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, maxMs: 15_000 };

/** "Equal jitter": half the capped exponential step, plus up to the other half at random. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const step = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** The delay before retrying after `error`: at least what its Retry-After asked for. */
export function retryDelay(error: unknown, attempt: number, backoff: Backoff): number {
  const delay = backoffDelay(attempt, backoff);
  return error instanceof ApiError && error.retryAfterMs !== undefined ? Math.max(delay, error.retryAfterMs) : delay;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    // setTimeout treats anything past 2^31-1 ms as 1 ms; "forever" must stay forever.
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The reason a signal aborted with, as something throwable. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("aborted");
}

export interface RetryOptions {
  backoff: Backoff;
  signal?: AbortSignal;
  /** Epoch ms: give up rather than start a wait that would end past this. */
  deadline?: number;
  /** Give up after this many calls (default: no limit). */
  attempts?: number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, retrying transient failures (no answer, 5xx,
 * 429) with backoff. Anything else, an abort, the last allowed attempt, or a
 * retry that would run past the deadline, rethrows the last error.
 */
export async function retrying<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error) || options.signal?.aborted) throw error;
      if (options.attempts !== undefined && attempt + 1 >= options.attempts) throw error;
      const delay = retryDelay(error, attempt, options.backoff);
      if (options.deadline !== undefined && Date.now() + delay >= options.deadline) throw error;
      options.onRetry?.(error, attempt, delay);
      if (!(await sleep(delay, options.signal))) throw error;
    }
  }
}
