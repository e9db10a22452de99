/**
 * The two ways an authentication attempt ends, shared by every contract's
 * resolver: admit (set the caller, charge the principal's rate budget) or
 * refuse (write the audit row, throw the surface's error).
 */
import { credentialInForce, effectiveExpiry, type LookupResult, lookupCredential } from "../core/credentials";
import { findPrincipal } from "../core/principals";
import type { CredentialRow, PrincipalRow } from "../db/client";
import type { CredentialKind } from "../db/schema";
import type { Caller, CredentialVia } from "../env";
import type { ApiError } from "../errors/api-error";
import { type AppContext, audit, db } from "../http/context";
import { enforceRateLimit, limitPrincipal, type PrincipalBudget } from "../http/rate-limit";
import type { VerifiedToken } from "./signed-tokens";

export async function admit(c: AppContext, caller: Caller, budget: PrincipalBudget = {}): Promise<void> {
  c.set("caller", caller);
  await limitPrincipal(c, caller.principal.id, budget);
}

/** The caller behind a valid opaque credential (API key, token, cookie session). */
export function callerFor(
  found: { credential: CredentialRow; principal: PrincipalRow },
  via: CredentialVia,
  grant: { scopes?: readonly string[]; actorKind?: Caller["actorKind"] } = {},
): Caller {
  return {
    principal: found.principal,
    via,
    credentialId: found.credential.id,
    expiresAt: effectiveExpiry(found.credential),
    scopes: grant.scopes ?? [],
    actorKind: grant.actorKind ?? "human",
  };
}

export async function refuse(
  c: AppContext,
  error: ApiError,
  why: { credential: string; reason: string; principalId?: number },
): Promise<never> {
  // Over budget, the 429 replaces the refusal and no row is written: floods cannot fill the log.
  await enforceRateLimit(c, "auth_failure", c.get("clientIp"));
  await audit(c, {
    action: "auth_failed",
    success: false,
    target: `${c.req.method} ${c.req.path}`,
    principalId: why.principalId,
    details: { credential: why.credential, reason: why.reason, surface: c.get("surface") },
  });
  throw error;
}

export async function lookup(c: AppContext, secret: string, kinds: readonly CredentialKind[]): Promise<LookupResult> {
  return lookupCredential(db(c), secret, kinds);
}

export type SignedTokenProblem = "unknown_principal" | "disabled" | "revoked" | "not_a_user";

/**
 * A signed token is only as good as the principal behind it: the principal must
 * still exist and be active, must not have raised its token version since this
 * one was signed, and (for 004 cookies) the API key it came from must still be valid.
 */
export async function principalForToken(
  c: AppContext,
  token: VerifiedToken,
): Promise<{ ok: true; principal: PrincipalRow } | { ok: false; problem: SignedTokenProblem; principalId: number }> {
  const principal = await findPrincipal(db(c), token.principalId);
  const id = token.principalId;
  if (!principal) return { ok: false, problem: "unknown_principal", principalId: id };
  if (principal.kind !== "user") return { ok: false, problem: "not_a_user", principalId: id };
  if (principal.disabledAt) return { ok: false, problem: "disabled", principalId: id };
  if (token.tokenVersion !== principal.tokenVersion) return { ok: false, problem: "revoked", principalId: id };
  if (token.credentialId && !(await credentialInForce(db(c), token.credentialId, principal))) {
    return { ok: false, problem: "revoked", principalId: id };
  }
  return { ok: true, principal };
}

export function bearerToken(c: AppContext): string | undefined {
  const header = c.req.header("authorization");
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? "";
}
