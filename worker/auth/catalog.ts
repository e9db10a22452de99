/**
 * Contract 003 credentials: bearer tokens with scopes (agents), or the UI's
 * HttpOnly `retaia_session` cookie. A cookie-authenticated request with a
 * mutating method must also carry the session's CSRF token in `X-CSRF-Token`;
 * bearer requests need none, since browsers never attach them on their own.
 */
import type { MiddlewareHandler } from "hono";
import { HUMAN_SCOPES } from "../contracts/scopes";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";
import { type AppContext, readonly } from "../http/context";
import { COOKIES, readCookie } from "../http/cookies";
import { admit, bearerToken, callerFor, lookup, refuse } from "./admit";
import { secretsEqual, sha256Hex } from "./crypto";

export function authenticateCatalog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c);
    if (token !== undefined) {
      await admitAgentToken(c, token);
    } else {
      await admitUiSession(c);
    }
    await next();
  };
}

async function admitAgentToken(c: AppContext, token: string): Promise<void> {
  const found = token ? await lookup(c, token, ["agent_token"]) : ({ status: "unknown" } as const);
  if (found.status !== "valid") {
    await refuse(
      c,
      new ApiError(found.status === "expired" ? "token_expired" : "token_invalid", "Invalid bearer token"),
      {
        credential: "agent_token",
        reason: token ? found.status : "malformed",
      },
    );
    return;
  }
  c.set("surface", "003");
  const isAgent = found.principal.kind === "agent";
  await admit(
    c,
    callerFor(found, "agent_token", {
      scopes: found.credential.scopes ?? [],
      actorKind: isAgent ? "agent" : "human",
    }),
    // A bridge's polls, claims and heartbeats share one budget sized for a fleet's traffic.
    isAgent ? { bucket: "agent" } : {},
  );
}

async function admitUiSession(c: AppContext): Promise<void> {
  const token = readCookie(c, COOKIES.uiSession);
  if (!token) {
    await refuse(c, new ApiError("unauthenticated", "Authentication required"), {
      credential: "ui_session",
      reason: "missing",
    });
    return;
  }
  const found = await lookup(c, token, ["ui_session"]);
  if (found.status !== "valid") {
    await refuse(
      c,
      new ApiError(found.status === "expired" ? "token_expired" : "token_invalid", "Session is not valid"),
      {
        credential: "ui_session",
        reason: found.status,
      },
    );
    return;
  }
  if (!readonly(c.req.method)) {
    const csrf = c.req.header("x-csrf-token") ?? "";
    const matches =
      found.credential.csrfHash !== null && (await secretsEqual(await sha256Hex(csrf), found.credential.csrfHash));
    if (!csrf || !matches) {
      await refuse(c, new ApiError("csrf_failed", "Missing or invalid CSRF token"), {
        credential: "ui_session",
        reason: csrf ? "csrf_mismatch" : "csrf_missing",
        principalId: found.principal.id,
      });
      return;
    }
  }
  await admit(c, callerFor(found, "ui_session", { scopes: HUMAN_SCOPES }));
}
