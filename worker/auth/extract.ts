/**
 * Contract 004 credentials: an `x-api-key` header, or the signed short-lived
 * `data_extract_session` cookie created from an API key by POST /api/v1/auth/session.
 * The cookie names the key it came from, so revoking the key ends the session.
 */
import type { MiddlewareHandler } from "hono";
import { configFrom } from "../config";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";
import type { AppContext } from "../http/context";
import { COOKIES, readCookie } from "../http/cookies";
import { admit, callerFor, lookup, principalForToken, refuse } from "./admit";
import { verifyToken } from "./signed-tokens";

const unauthorized = () => new ApiError("unauthenticated", "Unauthorized");

export function authenticateExtract(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header("x-api-key");
    if (key !== undefined) {
      const found = await lookup(c, key, ["api_key"]);
      if (found.status !== "valid") {
        await refuse(c, unauthorized(), { credential: "api_key", reason: found.status });
        return;
      }
      c.set("surface", "004");
      await admit(c, callerFor(found, "api_key"));
      return next();
    }
    const session = await extractSession(c);
    if (!session.ok) {
      await refuse(c, unauthorized(), { credential: "extract_cookie", reason: session.reason });
      return;
    }
    c.set("surface", "004");
    await admit(c, {
      principal: session.principal,
      via: "extract_cookie",
      credentialId: session.credentialId,
      expiresAt: session.expiresAt,
      scopes: [],
      actorKind: "human",
    });
    return next();
  };
}

/** Reads and checks the session cookie without refusing; GET /auth/session reports on it. */
export async function extractSession(c: AppContext) {
  const cookie = readCookie(c, COOKIES.extractSession);
  if (!cookie) return { ok: false, reason: "missing" } as const;
  try {
    const token = await verifyToken(configFrom(c.env), cookie, "extract");
    const resolved = await principalForToken(c, token);
    if (!resolved.ok || !token.credentialId)
      return { ok: false, reason: resolved.ok ? "invalid" : resolved.problem } as const;
    return {
      ok: true,
      principal: resolved.principal,
      credentialId: token.credentialId,
      expiresAt: token.expiresAt,
    } as const;
  } catch (error) {
    return {
      ok: false,
      reason: error instanceof ApiError && error.code === "token_expired" ? "expired" : "invalid",
    } as const;
  }
}
