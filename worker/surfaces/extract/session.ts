/**
 * Contract 004 sessions: POST trades an API key for a signed, short-lived
 * `data_extract_session` cookie (15 minutes by default); GET reports on it; DELETE
 * clears it. Every response is `{authenticated, api_key_configured, expires_at}`.
 * Authentication is always on here, so `api_key_configured` is always true.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { lookup, refuse } from "../../auth/admit";
import { extractSession } from "../../auth/extract";
import { signToken } from "../../auth/signed-tokens";
import { configFrom } from "../../config";
import { ApiError } from "../../errors/api-error";
import { errorsDetail } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { COOKIES, clearCookie, writeCookie } from "../../http/cookies";
import { enforceRateLimit, limitByIp } from "../../http/rate-limit";
import { router } from "../../http/router";

const tags = ["Auth (004)"];

const SessionStatus = z
  .object({
    authenticated: z.boolean(),
    api_key_configured: z.boolean(),
    expires_at: z.string().datetime().nullable(),
  })
  .openapi("SessionStatusResponse");

const status = (expiresAt: Date | null) => ({
  authenticated: expiresAt !== null,
  api_key_configured: true,
  expires_at: expiresAt?.toISOString() ?? null,
});

const statusResponse = { content: { "application/json": { schema: SessionStatus } }, description: "Session status" };

export const extractSessionRoutes = router();

extractSessionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/auth/session",
    tags,
    summary: "Create a signed cookie session from an API key",
    middleware: [limitByIp(), limitBody(4 * KiB)] as const,
    request: {
      body: {
        content: { "application/json": { schema: z.object({ api_key: z.string().min(1).max(512) }) } },
        required: true,
      },
    },
    responses: { 200: statusResponse, 401: errorsDetail("Invalid API key") },
  }),
  async (c) => {
    const { api_key } = c.req.valid("json");
    const found = await lookup(c, api_key, ["api_key"]);
    if (found.status !== "valid") {
      return refuse(c, new ApiError("invalid_credentials", "Invalid API key"), {
        credential: "api_key",
        reason: found.status,
      });
    }
    const config = configFrom(c.env);
    const { token, expiresAt } = await signToken(config, {
      audience: "extract",
      principalId: found.principal.id,
      tokenVersion: found.principal.tokenVersion,
      ttlSeconds: config.EXTRACT_SESSION_TTL_S,
      credentialId: found.credential.id,
    });
    writeCookie(c, COOKIES.extractSession, token, { maxAgeSeconds: config.EXTRACT_SESSION_TTL_S, sameSite: "Strict" });
    return c.json(status(expiresAt), 200);
  },
);

extractSessionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/auth/session",
    tags,
    summary: "Current session status (never 401)",
    responses: { 200: statusResponse },
  }),
  async (c) => {
    const session = await extractSession(c);
    await enforceRateLimit(c, "session_check", session.ok ? `principal:${session.principal.id}` : c.get("clientIp"));
    return c.json(status(session.ok ? session.expiresAt : null), 200);
  },
);

extractSessionRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/api/v1/auth/session",
    tags,
    summary: "Clear the session cookie",
    responses: { 200: statusResponse },
  }),
  (c) => {
    clearCookie(c, COOKIES.extractSession);
    return c.json(status(null), 200);
  },
);
