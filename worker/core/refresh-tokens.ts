/**
 * Refresh tokens with rotation and reuse detection (contract 002). Every login
 * starts a family; each refresh retires the presented token and issues its
 * successor. Presenting a retired token again means it was copied: the whole
 * family is revoked, ending the session for the thief and the owner alike.
 */
import type { Database, PrincipalRow } from "../db/client";
import { ApiError } from "../errors/api-error";
import { type IssuedCredential, issueCredential, lookupCredential, markReplaced, revokeFamily } from "./credentials";

export async function startRefreshFamily(
  db: Database,
  principalId: number,
  ttlSeconds: number,
): Promise<IssuedCredential> {
  return issueCredential(db, {
    principalId,
    kind: "refresh_token",
    ttlSeconds,
    familyId: crypto.randomUUID(),
  });
}

export type RotationOutcome =
  | { ok: true; principal: PrincipalRow; next: IssuedCredential }
  | { ok: false; error: ApiError; reason: string; principalId?: number };

export async function rotateRefreshToken(db: Database, secret: string, ttlSeconds: number): Promise<RotationOutcome> {
  const found = await lookupCredential(db, secret, ["refresh_token"]);
  if (found.status === "unknown") {
    return { ok: false, error: new ApiError("token_invalid", "Invalid refresh token"), reason: "unknown" };
  }
  const { credential, principal } = found;
  const familyId = credential.familyId ?? credential.id;
  if (found.status === "revoked" && credential.replacedBy) return reuseDetected(db, familyId, principal.id);
  if (found.status !== "valid") {
    const expired = found.status === "expired";
    return {
      ok: false,
      error: new ApiError(
        expired ? "token_expired" : "token_revoked",
        expired ? "Refresh token expired" : "Refresh token revoked",
      ),
      reason: found.status,
      principalId: principal.id,
    };
  }
  // The successor is written before the presented token is retired: a concurrent
  // request can only see this token as replaced (and revoke the family) once the
  // successor exists, so a detected reuse always ends the successor too.
  const next = await issueCredential(db, {
    principalId: principal.id,
    kind: "refresh_token",
    ttlSeconds,
    familyId,
  });
  // Of two concurrent refreshes with one token, only one retires it; the other is a reuse.
  if (!(await markReplaced(db, credential.id, next.id))) return reuseDetected(db, familyId, principal.id);
  return { ok: true, principal, next };
}

/** A retired token came back: it was copied. End the whole login. */
async function reuseDetected(db: Database, familyId: string, principalId: number): Promise<RotationOutcome> {
  await revokeFamily(db, familyId, "reuse_detected");
  return {
    ok: false,
    error: new ApiError("refresh_token_reused", "Refresh token was already used; sign in again"),
    reason: "reuse",
    principalId,
  };
}
