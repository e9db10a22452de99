/**
 * Contract 000 generation sessions: POST creates a guest principal with a small
 * quota and sets `gg_session`; GET reports on it; DELETE revokes it. The session
 * is persisted (hashed) in D1, so it survives restarts and can be revoked.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { admitGuestSession } from "../../auth/media-generation";
import { configFrom } from "../../config";
import { issueCredential, revokeCredential } from "../../core/credentials";
import { createGuest } from "../../core/principals";
import { errors000 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { callerOf, db } from "../../http/context";
import { COOKIES, clearCookie, writeCookie } from "../../http/cookies";
import { limitByIp } from "../../http/rate-limit";
import { router } from "../../http/router";

const tags = ["Session (000)"];

export const SessionStatus = z
  .object({ valid: z.boolean(), active: z.boolean(), expires_at: z.string().datetime() })
  .openapi("GenerationSessionStatus");

export const session = router();

session.openapi(
  createRoute({
    method: "post",
    path: "/auth/session",
    tags,
    summary: "Start a generation session (sets the gg_session cookie)",
    middleware: [limitByIp(), limitBody(KiB)] as const,
    responses: { 204: { description: "Session created" }, 429: errors000("Too many sessions from this address") },
  }),
  async (c) => {
    const config = configFrom(c.env);
    const guest = await createGuest(db(c), {
      concurrent: config.GUEST_QUOTA_CONCURRENT,
      daily: config.GUEST_QUOTA_DAILY,
    });
    const issued = await issueCredential(db(c), {
      principalId: guest.id,
      kind: "guest_session",
      ttlSeconds: config.GUEST_SESSION_TTL_S,
    });
    writeCookie(c, COOKIES.guestSession, issued.secret, { maxAgeSeconds: config.GUEST_SESSION_TTL_S, sameSite: "Lax" });
    return c.body(null, 204);
  },
);

session.openapi(
  createRoute({
    method: "get",
    path: "/auth/session",
    tags,
    summary: "Check the current generation session",
    responses: {
      200: { content: { "application/json": { schema: SessionStatus } }, description: "The session is valid" },
      401: errors000("generation_session_missing, _expired or _invalid"),
    },
  }),
  async (c) => {
    await admitGuestSession(c, { bucket: "session_check" });
    const expiresAt = callerOf(c).expiresAt ?? new Date();
    return c.json({ valid: true, active: true, expires_at: expiresAt.toISOString() }, 200);
  },
);

session.openapi(
  createRoute({
    method: "delete",
    path: "/auth/session",
    tags,
    summary: "Revoke the current generation session",
    responses: { 204: { description: "Revoked" }, 401: errors000("No valid session") },
  }),
  async (c) => {
    await admitGuestSession(c);
    const caller = callerOf(c);
    if (caller.credentialId) await revokeCredential(db(c), caller.credentialId, "signed_out");
    clearCookie(c, COOKIES.guestSession);
    return c.body(null, 204);
  },
);
