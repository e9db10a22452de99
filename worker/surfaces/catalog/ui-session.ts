/**
 * Contract 003 human sessions for the web UI, and the caller's own identity.
 * The contract asks for an HttpOnly same-origin cookie with CSRF on mutating
 * methods but names no login route; these are additive and in the OpenAPI:
 *  - POST /api/v1/ui/session {username, password} → HttpOnly `retaia_session`
 *    cookie, and a `csrf_token` (in the body and in the page-readable
 *    `retaia_csrf` cookie, so a reload keeps it) that the UI echoes in
 *    X-CSRF-Token on POST/PATCH/PUT/DELETE;
 *  - DELETE /api/v1/ui/session (needs the CSRF token);
 *  - GET /api/v1/actor: who the bearer token or session is, and its scopes.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { refuse } from "../../auth/admit";
import { authenticateCatalog } from "../../auth/catalog";
import { randomSecret, sha256Hex } from "../../auth/crypto";
import { configFrom } from "../../config";
import { HUMAN_SCOPES } from "../../contracts/scopes";
import { issueCredential, revokeCredential } from "../../core/credentials";
import { authenticateUser } from "../../core/principals";
import { ApiError } from "../../errors/api-error";
import { errors003 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { callerOf, db } from "../../http/context";
import { COOKIES, clearCookie, writeCookie } from "../../http/cookies";
import { limitByIp } from "../../http/rate-limit";
import { router } from "../../http/router";

const tags = ["Auth (003)"];

const UiSession = z
  .object({
    csrf_token: z.string(),
    expires_at: z.string().datetime(),
    actor_kind: z.literal("human"),
    scopes: z.array(z.string()),
  })
  .openapi("UiSession");

const Actor = z
  .object({
    principal_id: z.number().int(),
    actor_kind: z.enum(["human", "agent"]),
    via: z.string(),
    scopes: z.array(z.string()),
    capacity_account_id: z.string().nullable(),
  })
  .openapi("Actor");

export const uiSession = router();

uiSession.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/ui/session",
    tags,
    summary: "Sign in to the UI: sets the session cookie and returns its CSRF token",
    middleware: [limitByIp(), limitBody(16 * KiB)] as const,
    request: {
      body: {
        content: {
          "application/json": {
            schema: z.object({ username: z.string().min(1).max(320), password: z.string().min(1).max(256) }),
          },
        },
        required: true,
      },
    },
    responses: {
      201: { content: { "application/json": { schema: UiSession } }, description: "Signed in" },
      401: errors003("Wrong username or password"),
    },
  }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const user = await authenticateUser(db(c), username, password);
    if (!user) {
      return refuse(c, new ApiError("invalid_credentials", "Invalid username or password"), {
        credential: "password",
        reason: "mismatch",
      });
    }
    const ttlSeconds = configFrom(c.env).UI_SESSION_TTL_S;
    const csrf = randomSecret(32);
    const issued = await issueCredential(db(c), {
      principalId: user.id,
      kind: "ui_session",
      ttlSeconds,
      csrfHash: await sha256Hex(csrf),
    });
    writeCookie(c, COOKIES.uiSession, issued.secret, { maxAgeSeconds: ttlSeconds, sameSite: "Strict" });
    writeCookie(c, COOKIES.uiCsrf, csrf, { maxAgeSeconds: ttlSeconds, sameSite: "Strict", readableByPage: true });
    return c.json(
      {
        csrf_token: csrf,
        expires_at: (issued.expiresAt ?? new Date()).toISOString(),
        actor_kind: "human" as const,
        scopes: HUMAN_SCOPES,
      },
      201,
    );
  },
);

uiSession.openapi(
  createRoute({
    method: "delete",
    path: "/api/v1/ui/session",
    tags,
    summary: "Sign out of the UI (requires X-CSRF-Token)",
    middleware: [authenticateCatalog()] as const,
    responses: { 204: { description: "Signed out" }, 401: errors003("No session"), 403: errors003("CSRF_INVALID") },
  }),
  async (c) => {
    const caller = callerOf(c);
    if (caller.via !== "ui_session" || !caller.credentialId) {
      throw new ApiError("forbidden_actor", "Only a UI session can sign out here");
    }
    await revokeCredential(db(c), caller.credentialId, "signed_out");
    clearCookie(c, COOKIES.uiSession);
    clearCookie(c, COOKIES.uiCsrf);
    return c.body(null, 204);
  },
);

uiSession.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/actor",
    tags,
    summary: "Who the current bearer token or UI session is, and what it may do",
    security: [{ Bearer: [] }],
    middleware: [authenticateCatalog()] as const,
    responses: {
      200: { content: { "application/json": { schema: Actor } }, description: "The actor" },
      401: errors003("UNAUTHORIZED"),
    },
  }),
  (c) => {
    const caller = callerOf(c);
    return c.json(
      {
        principal_id: caller.principal.id,
        actor_kind: caller.actorKind,
        via: caller.via,
        scopes: [...caller.scopes],
        capacity_account_id: caller.principal.capacityAccountId,
      },
      200,
    );
  },
);
