/**
 * Bearer JWTs for contracts 001 (pipeline) and 002 (story). Both read
 * `Authorization: Bearer <token>` and answer {detail} errors; they differ only in
 * audience and wording, which the caller passes in.
 */
import type { MiddlewareHandler } from "hono";
import { configFrom } from "../config";
import type { AppEnv, CredentialVia } from "../env";
import { ApiError } from "../errors/api-error";
import { admit, bearerToken, principalForToken, refuse } from "./admit";
import { type Audience, verifyToken } from "./signed-tokens";

interface BearerPolicy {
  audience: Extract<Audience, "pipeline" | "story">;
  via: Extract<CredentialVia, "pipeline_token" | "story_token">;
  missingMessage: string;
  invalidMessage: string;
}

function authenticateBearer(policy: BearerPolicy): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const challenge = { "WWW-Authenticate": "Bearer" };
    const token = bearerToken(c);
    if (!token) {
      await refuse(c, new ApiError("unauthenticated", policy.missingMessage, { headers: challenge }), {
        credential: policy.via,
        reason: token === undefined ? "missing" : "malformed",
      });
      return;
    }
    let verified: Awaited<ReturnType<typeof verifyToken>>;
    try {
      verified = await verifyToken(configFrom(c.env), token, policy.audience);
    } catch (error) {
      const expired = error instanceof ApiError && error.code === "token_expired";
      await refuse(
        c,
        new ApiError(
          expired ? "token_expired" : "token_invalid",
          expired ? "Token has expired" : policy.invalidMessage,
          {
            headers: challenge,
          },
        ),
        { credential: policy.via, reason: expired ? "expired" : "invalid" },
      );
      return;
    }
    const resolved = await principalForToken(c, verified);
    if (!resolved.ok) {
      await refuse(c, new ApiError("token_revoked", policy.invalidMessage, { headers: challenge }), {
        credential: policy.via,
        reason: resolved.problem,
        principalId: resolved.principalId,
      });
      return;
    }
    await admit(c, {
      principal: resolved.principal,
      via: policy.via,
      credentialId: null,
      expiresAt: verified.expiresAt,
      scopes: [],
      actorKind: "human",
    });
    await next();
  };
}

export const authenticatePipeline = () =>
  authenticateBearer({
    audience: "pipeline",
    via: "pipeline_token",
    missingMessage: "Not authenticated",
    invalidMessage: "Could not validate credentials",
  });

export const authenticateStory = () =>
  authenticateBearer({
    audience: "story",
    via: "story_token",
    missingMessage: "Unauthorized",
    invalidMessage: "Unauthorized",
  });
