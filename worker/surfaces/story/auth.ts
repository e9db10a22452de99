/**
 * Contract 002 authentication: register, login (access token + HttpOnly refresh
 * cookie) and refresh (rotates the refresh token; a reused one is refused and
 * ends the login). Access tokens are HS256 JWTs for the "story" audience.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { refuse } from "../../auth/admit";
import { signToken } from "../../auth/signed-tokens";
import { configFrom } from "../../config";
import { authenticateUser, createUser, passwordSchema, usernameSchema } from "../../core/principals";
import { rotateRefreshToken, startRefreshFamily } from "../../core/refresh-tokens";
import type { PrincipalRow } from "../../db/client";
import { ApiError } from "../../errors/api-error";
import { errorsDetail } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { type AppContext, db } from "../../http/context";
import { COOKIES, clearCookie, readCookie, writeCookie } from "../../http/cookies";
import { limitByIp } from "../../http/rate-limit";
import { router } from "../../http/router";

const tags = ["Auth (002)"];
const REFRESH_PATH = "/api";

const Credentials = z.object({ username: usernameSchema, password: passwordSchema }).openapi("StoryCredentials");
const Login = z.object({ username: z.string().min(1).max(320), password: z.string().min(1).max(256) });
const Token = z.object({ access_token: z.string(), token_type: z.literal("Bearer") }).openapi("StoryToken");

async function tokenResponse(c: AppContext, user: PrincipalRow, refreshSecret: string) {
  const config = configFrom(c.env);
  writeCookie(c, COOKIES.refreshToken, refreshSecret, {
    maxAgeSeconds: config.STORY_REFRESH_TTL_S,
    sameSite: "Lax",
    path: REFRESH_PATH,
  });
  const { token } = await signToken(config, {
    audience: "story",
    principalId: user.id,
    tokenVersion: user.tokenVersion,
    ttlSeconds: config.STORY_ACCESS_TTL_S,
  });
  return { access_token: token, token_type: "Bearer" as const };
}

export const storyAuth = router();

storyAuth.openapi(
  createRoute({
    method: "post",
    path: "/api/register",
    tags,
    summary: "Register a user (username 3–64 characters, password 8–256 and not blank)",
    middleware: [limitByIp(), limitBody(16 * KiB)] as const,
    request: { body: { content: { "application/json": { schema: Credentials } }, required: true } },
    responses: {
      200: {
        content: { "application/json": { schema: z.object({ id: z.number().int(), username: z.string() }) } },
        description: "Registered",
      },
      400: errorsDetail("Username already exists"),
      422: errorsDetail("Invalid username or password"),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const user = await createUser(db(c), input);
    return c.json({ id: user.id, username: user.username ?? input.username }, 200);
  },
);

storyAuth.openapi(
  createRoute({
    method: "post",
    path: "/api/login",
    tags,
    summary: "Log in: access token in the body, refresh token in an HttpOnly cookie",
    middleware: [limitByIp(), limitBody(16 * KiB)] as const,
    request: { body: { content: { "application/json": { schema: Login } }, required: true } },
    responses: {
      200: { content: { "application/json": { schema: Token } }, description: "Logged in" },
      401: errorsDetail("Invalid credentials"),
    },
  }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const user = await authenticateUser(db(c), username, password);
    if (!user) {
      return refuse(c, new ApiError("invalid_credentials", "Invalid credentials"), {
        credential: "password",
        reason: "mismatch",
      });
    }
    const refresh = await startRefreshFamily(db(c), user.id, configFrom(c.env).STORY_REFRESH_TTL_S);
    return c.json(await tokenResponse(c, user, refresh.secret), 200);
  },
);

storyAuth.openapi(
  createRoute({
    method: "post",
    path: "/api/refresh",
    tags,
    summary: "New access token from the refresh cookie; the cookie is rotated",
    middleware: [limitByIp(), limitBody(KiB)] as const,
    responses: {
      200: { content: { "application/json": { schema: Token } }, description: "Refreshed" },
      401: errorsDetail("Missing, expired, revoked or reused refresh token"),
    },
  }),
  async (c) => {
    const secret = readCookie(c, COOKIES.refreshToken);
    if (!secret) {
      return refuse(c, new ApiError("unauthenticated", "Refresh token missing"), {
        credential: "refresh_token",
        reason: "missing",
      });
    }
    const outcome = await rotateRefreshToken(db(c), secret, configFrom(c.env).STORY_REFRESH_TTL_S);
    if (!outcome.ok) {
      clearCookie(c, COOKIES.refreshToken, REFRESH_PATH);
      return refuse(c, outcome.error, {
        credential: "refresh_token",
        reason: outcome.reason,
        principalId: outcome.principalId,
      });
    }
    return c.json(await tokenResponse(c, outcome.principal, outcome.next.secret), 200);
  },
);
