/**
 * Contract 000 admin sessions. POST /admin/session trades the `x-admin-key`
 * header (never a query parameter) for the `gg_admin_session` cookie, which has
 * an idle timeout and a hard lifetime; every other admin route takes only that
 * cookie. Every attempt, good or bad, is audited.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { callerFor, lookup, refuse } from "../../auth/admit";
import { adminRoute } from "../../auth/media-generation";
import { configFrom } from "../../config";
import { issueCredential, revokeCredential } from "../../core/credentials";
import { ApiError } from "../../errors/api-error";
import { errors000 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { audit, callerOf, db } from "../../http/context";
import { COOKIES, clearCookie, writeCookie } from "../../http/cookies";
import { limitByIp, limitPrincipal } from "../../http/rate-limit";
import { router } from "../../http/router";

const tags = ["Admin (000)"];

const AdminSessionStatus = z
  .object({
    valid: z.boolean(),
    active: z.boolean(),
    expires_at: z.string().datetime(),
    idle_timeout_seconds: z.number().int(),
  })
  .openapi("AdminSessionStatus");

export const adminSession = router();

adminSession.openapi(
  createRoute({
    method: "post",
    path: "/admin/session",
    tags,
    summary: "Establish an admin session from the x-admin-key header",
    request: { headers: z.object({ "x-admin-key": z.string().optional() }) },
    middleware: [limitByIp("admin_login_rate_limited"), limitBody(KiB)] as const,
    responses: {
      200: { content: { "application/json": { schema: AdminSessionStatus } }, description: "Session established" },
      400: errors000("The admin key was sent in the query string"),
      401: errors000("No x-admin-key header"),
      403: errors000("Wrong admin key"),
      429: errors000("admin_login_rate_limited"),
    },
  }),
  async (c) => {
    const url = new URL(c.req.url);
    if (url.searchParams.has("x-admin-key") || url.searchParams.has("admin_key")) {
      await refuse(
        c,
        new ApiError("bad_request", "The admin key must be sent in the x-admin-key header, never in a URL"),
        {
          credential: "admin_key",
          reason: "query_string",
        },
      );
    }
    const key = c.req.valid("header")["x-admin-key"];
    if (!key) {
      return refuse(c, new ApiError("unauthenticated", "x-admin-key header required"), {
        credential: "admin_key",
        reason: "missing",
      });
    }
    const found = await lookup(c, key, ["admin_key"]);
    if (found.status !== "valid" || found.principal.kind !== "admin") {
      return refuse(c, new ApiError("invalid_admin_key", "Invalid admin key"), {
        credential: "admin_key",
        reason: found.status,
      });
    }
    const config = configFrom(c.env);
    // Charge the admin's budget before writing a session nobody would receive on a 429.
    await limitPrincipal(c, found.principal.id, { code: "admin_rate_limited" });
    const issued = await issueCredential(db(c), {
      principalId: found.principal.id,
      kind: "admin_session",
      ttlSeconds: config.ADMIN_SESSION_MAX_S,
      idleTimeoutSeconds: config.ADMIN_SESSION_IDLE_S,
    });
    c.set("caller", { ...callerFor(found, "admin_session"), credentialId: issued.id, expiresAt: issued.expiresAt });
    await audit(c, { action: "admin_session_create", success: true, details: { auth: "x-admin-key" } });
    writeCookie(c, COOKIES.adminSession, issued.secret, {
      maxAgeSeconds: config.ADMIN_SESSION_MAX_S,
      sameSite: "Strict",
    });
    const idleExpiry = new Date(Date.now() + config.ADMIN_SESSION_IDLE_S * 1000);
    return c.json(
      {
        valid: true,
        active: true,
        expires_at: idleExpiry.toISOString(),
        idle_timeout_seconds: config.ADMIN_SESSION_IDLE_S,
      },
      200,
    );
  },
);

adminSession.openapi(
  createRoute({
    method: "get",
    path: "/admin/session",
    tags,
    summary: "Check the admin session (extends its idle timeout)",
    middleware: [adminRoute("admin_session_get", { bucket: "session_check" })] as const,
    responses: {
      200: { content: { "application/json": { schema: AdminSessionStatus } }, description: "Valid" },
      401: errors000("No valid admin session"),
    },
  }),
  async (c) => {
    const caller = callerOf(c);
    return c.json(
      {
        valid: true,
        active: true,
        expires_at: (caller.expiresAt ?? new Date()).toISOString(),
        idle_timeout_seconds: configFrom(c.env).ADMIN_SESSION_IDLE_S,
      },
      200,
    );
  },
);

adminSession.openapi(
  createRoute({
    method: "delete",
    path: "/admin/session",
    tags,
    summary: "End the admin session",
    middleware: [adminRoute("admin_session_delete")] as const,
    responses: { 204: { description: "Ended" }, 401: errors000("No valid admin session") },
  }),
  async (c) => {
    const caller = callerOf(c);
    if (caller.credentialId) await revokeCredential(db(c), caller.credentialId, "signed_out");
    clearCookie(c, COOKIES.adminSession);
    return c.body(null, 204);
  },
);
