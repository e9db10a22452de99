/**
 * Contract 001 authentication: OAuth2-style form login, the NextAuth exchange
 * and /me. Tokens are HS256 JWTs for the "pipeline" audience, 30 minutes by
 * default. Unlike the original, /exchange mints nothing without the server-side
 * shared secret in X-Exchange-Secret, and every refusal is audited.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { refuse } from "../../auth/admit";
import { secretsEqual } from "../../auth/crypto";
import { authenticatePipeline } from "../../auth/signed-bearer";
import { signToken } from "../../auth/signed-tokens";
import { configFrom } from "../../config";
import { authenticateUser, findUserByEmail } from "../../core/principals";
import type { PrincipalRow } from "../../db/client";
import { ApiError } from "../../errors/api-error";
import { errorsDetail } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { type AppContext, audit, callerOf, db } from "../../http/context";
import { limitByIp } from "../../http/rate-limit";
import { router } from "../../http/router";

const tags = ["Auth (001)"];

const Token = z.object({ access_token: z.string(), token_type: z.literal("bearer") }).openapi("PipelineToken");

const LoginForm = z.object({ username: z.string().min(1).max(320), password: z.string().min(1).max(256) });

const Me = z
  .object({ id: z.number().int(), email: z.string().nullable(), created_at: z.string().datetime() })
  .openapi("PipelineUser");

async function issue(c: AppContext, user: PrincipalRow) {
  const config = configFrom(c.env);
  const { token } = await signToken(config, {
    audience: "pipeline",
    principalId: user.id,
    tokenVersion: user.tokenVersion,
    ttlSeconds: config.PIPELINE_TOKEN_TTL_S,
  });
  return { access_token: token, token_type: "bearer" as const };
}

export const pipelineAuth = router();

pipelineAuth.openapi(
  createRoute({
    method: "post",
    path: "/api/auth/login",
    tags,
    summary: "Log in with form fields username (e-mail) and password",
    middleware: [limitByIp(), limitBody(16 * KiB)] as const,
    request: {
      body: {
        content: {
          "application/x-www-form-urlencoded": { schema: LoginForm },
          "multipart/form-data": { schema: LoginForm },
        },
        required: true,
      },
    },
    responses: {
      200: { content: { "application/json": { schema: Token } }, description: "Logged in" },
      401: errorsDetail("Incorrect email or password"),
      422: errorsDetail("Missing form fields"),
    },
  }),
  async (c) => {
    const form = c.req.valid("form");
    const user = await authenticateUser(db(c), form.username, form.password);
    if (!user) {
      return refuse(
        c,
        new ApiError("invalid_credentials", "Incorrect email or password", {
          headers: { "WWW-Authenticate": "Bearer" },
        }),
        { credential: "password", reason: "mismatch" },
      );
    }
    return c.json(await issue(c, user), 200);
  },
);

pipelineAuth.openapi(
  createRoute({
    method: "post",
    path: "/api/auth/exchange",
    tags,
    summary: "Exchange a front-end session (by e-mail) for a token; requires X-Exchange-Secret",
    middleware: [limitByIp(), limitBody(4 * KiB)] as const,
    request: {
      headers: z.object({ "x-exchange-secret": z.string().optional() }),
      body: {
        content: { "application/json": { schema: z.object({ email: z.string().email().max(320) }) } },
        required: true,
      },
    },
    responses: {
      200: { content: { "application/json": { schema: Token } }, description: "Token minted" },
      401: errorsDetail("Missing or wrong exchange secret"),
      404: errorsDetail("No user with that e-mail"),
    },
  }),
  async (c) => {
    const secret = c.req.valid("header")["x-exchange-secret"];
    const { email } = c.req.valid("json");
    if (!secret || !(await secretsEqual(secret, configFrom(c.env).EXCHANGE_SECRET))) {
      return refuse(c, new ApiError("exchange_forbidden", "Exchange requires the server-side shared secret"), {
        credential: "exchange_secret",
        reason: secret ? "mismatch" : "missing",
      });
    }
    const user = await findUserByEmail(db(c), email);
    if (!user) throw new ApiError("not_found", `User with email ${email} not found`);
    await audit(c, { action: "auth_exchange", success: true, target: `user:${user.id}` });
    return c.json(await issue(c, user), 200);
  },
);

pipelineAuth.openapi(
  createRoute({
    method: "get",
    path: "/api/auth/me",
    tags,
    summary: "The current user",
    security: [{ Bearer: [] }],
    middleware: [authenticatePipeline()] as const,
    responses: {
      200: { content: { "application/json": { schema: Me } }, description: "The user" },
      401: errorsDetail("Not authenticated / Could not validate credentials"),
    },
  }),
  (c) => {
    const { principal } = callerOf(c);
    return c.json({ id: principal.id, email: principal.email, created_at: principal.createdAt.toISOString() }, 200);
  },
);
