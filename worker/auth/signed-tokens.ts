/**
 * Self-contained signed tokens (HS256 JWTs via jose): 001's bearer tokens, 002's
 * access tokens and 004's session cookie. Each contract has its own audience,
 * so a token minted for one surface is worthless on another.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import type { Config } from "../config";
import { ApiError } from "../errors/api-error";

export type Audience = "pipeline" | "story" | "extract";

const ISSUER = "media-edge";

const claimsSchema = z.object({
  sub: z.string().regex(/^\d+$/),
  iat: z.number(),
  exp: z.number(),
  /** The principal's token version when this was signed; a raised version revokes it. */
  ver: z.number().int().nonnegative(),
  /** The API key credential a 004 session cookie was created from. */
  cid: z.string().optional(),
});

export interface VerifiedToken {
  principalId: number;
  tokenVersion: number;
  expiresAt: Date;
  credentialId?: string;
}

function key(config: Config): Uint8Array {
  return new TextEncoder().encode(config.JWT_SECRET);
}

export async function signToken(
  config: Config,
  input: { audience: Audience; principalId: number; tokenVersion: number; ttlSeconds: number; credentialId?: string },
): Promise<{ token: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = new Date((now + input.ttlSeconds) * 1000);
  const token = await new SignJWT({
    ver: input.tokenVersion,
    ...(input.credentialId ? { cid: input.credentialId } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(input.audience)
    .setSubject(String(input.principalId))
    .setIssuedAt(now)
    .setExpirationTime(now + input.ttlSeconds)
    .sign(key(config));
  return { token, expiresAt };
}

/** Verifies signature, issuer, audience and expiry; throws token_expired or token_invalid. */
export async function verifyToken(config: Config, token: string, audience: Audience): Promise<VerifiedToken> {
  try {
    const { payload } = await jwtVerify(token, key(config), {
      issuer: ISSUER,
      audience,
      algorithms: ["HS256"],
    });
    const claims = claimsSchema.parse(payload);
    return {
      principalId: Number(claims.sub),
      tokenVersion: claims.ver,
      expiresAt: new Date(claims.exp * 1000),
      credentialId: claims.cid,
    };
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new ApiError("token_expired", "Token has expired");
    throw new ApiError("token_invalid", "Could not validate credentials");
  }
}
