/**
 * CORS with an explicit allowlist from configuration. Listed origins may send
 * credentials; a preflight from any other origin is refused with a clear 403.
 * Same-origin requests never need CORS and pass untouched.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { configFrom } from "../config";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";

export function corsAllowlist(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header("origin");
    const allowed = configFrom(c.env).CORS_ORIGINS;
    const sameOrigin = origin === new URL(c.req.url).origin;
    if (origin && !sameOrigin && !allowed.includes(origin) && c.req.method === "OPTIONS") {
      throw new ApiError("cors_origin_blocked", `Origin ${origin} is not allowed`);
    }
    return cors({
      origin: (requestOrigin) => (allowed.includes(requestOrigin) ? requestOrigin : null),
      credentials: true,
      allowHeaders: ["Content-Type", "Authorization", "X-API-Key", "X-CSRF-Token", "Idempotency-Key"],
      exposeHeaders: ["X-Request-Id", "X-Correlation-Id", "Retry-After", "Idempotent-Replayed"],
      maxAge: 600,
    })(c, next);
  };
}
