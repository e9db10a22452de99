/**
 * CORS with an explicit allowlist from configuration. A cross-origin request
 * from an origin not on the list, preflight or not, is refused with a clear
 * 403 `cors_origin_blocked` before any route runs: a browser could not read
 * the answer anyway, so the only thing serving it could do is act on a forged
 * cross-site write. Listed origins may send credentials, and only they are
 * told so. Same-origin requests and clients that send no Origin (servers,
 * bridges, curl) pass untouched.
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
    if (origin && !sameOrigin && !allowed.includes(origin)) {
      throw new ApiError("cors_origin_blocked", `Origin ${origin} is not allowed to call this API`, {
        details: { origin },
      });
    }
    const preflight = await cors({
      origin: (requestOrigin) => (allowed.includes(requestOrigin) ? requestOrigin : null),
      credentials: true,
      allowHeaders: ["Content-Type", "Authorization", "X-API-Key", "X-CSRF-Token", "Idempotency-Key"],
      exposeHeaders: ["X-Request-Id", "X-Correlation-Id", "Retry-After", "Idempotent-Replayed"],
      maxAge: 600,
    })(c, next);
    // hono's cors always says credentials are allowed; only a listed origin is told that.
    const response = preflight ?? c.res;
    if (!response.headers.has("access-control-allow-origin")) {
      response.headers.delete("access-control-allow-credentials");
    }
    return preflight;
  };
}
