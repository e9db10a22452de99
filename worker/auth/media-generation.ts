/**
 * Contract 000 credentials. Generation and media routes accept, in this order,
 * `X-API-Key`, the `api_key` query parameter, then the `gg_session` cookie. A key
 * that is present but bad is 403 `invalid_api_key` (the cookie is not consulted);
 * no credential at all is 401. Admin routes take only the admin session cookie;
 * `x-admin-key` is accepted solely by POST /admin/session, and never from a query.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";
import { type AppContext, audit } from "../http/context";
import { COOKIES, readCookie } from "../http/cookies";
import type { PrincipalBudget } from "../http/rate-limit";
import { admit, callerFor, lookup, refuse } from "./admit";

export function authenticateGeneration(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header("x-api-key") ?? c.req.query("api_key");
    if (key !== undefined) {
      const found = await lookup(c, key, ["api_key"]);
      if (found.status !== "valid") {
        await refuse(c, new ApiError("invalid_api_key", "Invalid API key"), {
          credential: "api_key",
          reason: found.status,
        });
      } else {
        await admit(c, callerFor(found, "api_key"));
        return next();
      }
    }
    await admitGuestSession(c);
    return next();
  };
}

/** The `gg_session` cookie alone, as GET/DELETE /auth/session use it. */
export async function admitGuestSession(c: AppContext, budget: PrincipalBudget = {}): Promise<void> {
  const token = readCookie(c, COOKIES.guestSession);
  if (!token) {
    await refuse(c, new ApiError("generation_session_missing", "No generation session"), {
      credential: "gg_session",
      reason: "missing",
    });
    return;
  }
  const found = await lookup(c, token, ["guest_session"]);
  if (found.status !== "valid") {
    const code = found.status === "expired" ? "generation_session_expired" : "generation_session_invalid";
    await refuse(c, new ApiError(code, found.status === "expired" ? "Session expired" : "Session is not valid"), {
      credential: "gg_session",
      reason: found.status,
    });
    return;
  }
  await admit(c, callerFor(found, "guest_session"), budget);
}

/** The admin session cookie; admin budgets answer 429 `admin_rate_limited`. */
async function admitAdminSession(c: AppContext, budget: PrincipalBudget = {}): Promise<void> {
  const token = readCookie(c, COOKIES.adminSession);
  if (!token) {
    const hint = c.req.header("x-admin-key") ? "x-admin-key only establishes a session" : "missing";
    await refuse(
      c,
      new ApiError("admin_session_required", "Admin session required", {
        userAction: "POST /admin/session with the x-admin-key header, then call this route with the session cookie.",
      }),
      { credential: "gg_admin_session", reason: hint },
    );
    return;
  }
  const found = await lookup(c, token, ["admin_session"]);
  if (found.status !== "valid" || found.principal.kind !== "admin") {
    const expired = found.status === "expired";
    await refuse(
      c,
      new ApiError(
        expired ? "admin_session_expired" : "admin_session_required",
        expired ? "Admin session expired" : "Admin session is not valid",
      ),
      { credential: "gg_admin_session", reason: found.status },
    );
    return;
  }
  await admit(c, callerFor(found, "admin_session"), { code: "admin_rate_limited", ...budget });
}

/**
 * Guards an admin route and audits it: every admin-authenticated call writes a
 * row named after the route's action, reads included, with its outcome.
 */
export function adminRoute(action: string, budget: PrincipalBudget = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await admitAdminSession(c, budget);
    // Hono has already turned a thrown error into c.res when next() returns.
    await next();
    const error =
      c.error instanceof ApiError ? { code: c.error.code } : c.error ? { code: "internal_error" } : undefined;
    // Written after the response is sent (waitUntil keeps the Worker alive for it), so an
    // admin call never waits on its own audit row. A failed write is logged, never turned
    // into a 500: the action already happened (an agent token may have been shown once).
    const written = audit(c, { action, success: c.res.status < 400, target: c.req.path, details: error }).catch(
      (auditError: unknown) =>
        console.error(
          JSON.stringify({
            level: "error",
            request_id: c.get("requestId"),
            audit_failed: action,
            error: String(auditError),
          }),
        ),
    );
    c.executionCtx.waitUntil(written);
  };
}
