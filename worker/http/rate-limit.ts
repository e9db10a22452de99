/**
 * Rate limiting in front of routes. Unauthenticated routes (login, session
 * creation) are keyed by client address and checked before any credential
 * work; authenticated routes are keyed by principal, reads and writes apart.
 */
import { configFrom, type RateBucket } from "../config";
import { ApiError } from "../errors/api-error";
import type { ErrorCode } from "../errors/codes";
import type { AppContext } from "./context";

export type LimitCode = Extract<ErrorCode, "rate_limited" | "admin_rate_limited" | "admin_login_rate_limited">;

export async function enforceRateLimit(
  c: AppContext,
  bucket: RateBucket,
  key: string,
  code: LimitCode = "rate_limited",
) {
  const rule = configFrom(c.env).RATE_LIMITS[bucket];
  const stub = c.env.RATE_LIMITER.getByName(`${bucket}:${key}`);
  const decision = await stub.take(rule);
  if (!decision.allowed) {
    throw new ApiError(code, `Too many requests; retry in ${decision.retryAfterSeconds} s`, {
      retryAfterSeconds: decision.retryAfterSeconds,
      details: { bucket, retry_after_seconds: decision.retryAfterSeconds },
    });
  }
}

/** Middleware: per-address budget for unauthenticated credential endpoints. */
export function limitByIp(code: LimitCode = "rate_limited") {
  return async (c: AppContext, next: () => Promise<void>) => {
    await enforceRateLimit(c, "auth_ip", c.get("clientIp"), code);
    await next();
  };
}

export interface PrincipalBudget {
  /** Defaults to "read" for GET/HEAD and "write" otherwise. */
  bucket?: RateBucket;
  code?: LimitCode;
}

/** The per-principal budget for an authenticated request: reads, writes and session checks apart. */
export async function limitPrincipal(c: AppContext, principalId: number, budget: PrincipalBudget = {}) {
  const bucket = budget.bucket ?? (c.req.method === "GET" || c.req.method === "HEAD" ? "read" : "write");
  await enforceRateLimit(c, bucket, `principal:${principalId}`, budget.code);
}
