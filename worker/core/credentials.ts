/**
 * Opaque credentials: API keys, admin keys, agent tokens and cookie sessions.
 * A credential is a random secret whose SHA-256 is the lookup key; the secret
 * leaves the server once, in the response that creates it. Lookup by digest is
 * what makes the check constant-time with respect to the secret: an attacker
 * timing the index probe learns only about a hash they cannot invert.
 */
import { and, eq, isNull } from "drizzle-orm";
import { sha256Hex } from "../auth/crypto";
import { displayPrefix, newSecret } from "../auth/secret-format";
import type { CredentialRow, Database, PrincipalRow } from "../db/client";
import { type CredentialKind, credentials, principals } from "../db/schema";

/** last_used_at is refreshed at most this often, so reads do not all become writes. */
const TOUCH_INTERVAL_MS = 30_000;

export interface IssueOptions {
  principalId: number;
  kind: CredentialKind;
  ttlSeconds?: number;
  scopes?: string[];
  label?: string;
  familyId?: string;
  idleTimeoutSeconds?: number;
  csrfHash?: string;
}

export interface IssuedCredential {
  id: string;
  /** The secret itself. Show it once; it is not stored. */
  secret: string;
  expiresAt: Date | null;
}

export async function issueCredential(
  db: Database,
  options: IssueOptions,
  now = Date.now(),
): Promise<IssuedCredential> {
  const secret = newSecret(options.kind);
  const id = crypto.randomUUID();
  const expiresAt = options.ttlSeconds ? new Date(now + options.ttlSeconds * 1000) : null;
  await db.insert(credentials).values({
    id,
    principalId: options.principalId,
    kind: options.kind,
    tokenHash: await sha256Hex(secret),
    prefix: displayPrefix(options.kind, secret),
    label: options.label ?? null,
    scopes: options.scopes ?? null,
    familyId: options.familyId ?? null,
    idleTimeoutSeconds: options.idleTimeoutSeconds ?? null,
    csrfHash: options.csrfHash ?? null,
    createdAt: new Date(now),
    expiresAt,
  });
  return { id, secret, expiresAt };
}

export type LookupResult =
  | { status: "valid"; credential: CredentialRow; principal: PrincipalRow }
  | { status: "expired" | "revoked"; credential: CredentialRow; principal: PrincipalRow }
  | { status: "unknown" };

/** The moment an idle-limited credential lapses, or its hard expiry, whichever is first. */
export function effectiveExpiry(credential: CredentialRow): Date | null {
  const hard = credential.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const idle = credential.idleTimeoutSeconds
    ? (credential.lastUsedAt ?? credential.createdAt).getTime() + credential.idleTimeoutSeconds * 1000
    : Number.POSITIVE_INFINITY;
  const at = Math.min(hard, idle);
  return Number.isFinite(at) ? new Date(at) : null;
}

/** The one rule for whether a credential is in force. */
function stateOf(credential: CredentialRow, principal: PrincipalRow, now: number): "valid" | "expired" | "revoked" {
  if (credential.revokedAt || principal.disabledAt) return "revoked";
  const expiry = effectiveExpiry(credential);
  return expiry && expiry.getTime() <= now ? "expired" : "valid";
}

/** Whether credential `id`, held by `principal`, is still in force (a 004 cookie names the API key it came from). */
export async function credentialInForce(
  db: Database,
  id: string,
  principal: PrincipalRow,
  now = Date.now(),
): Promise<boolean> {
  const rows = await db.select().from(credentials).where(eq(credentials.id, id)).limit(1);
  const credential = rows[0];
  return credential?.principalId === principal.id && stateOf(credential, principal, now) === "valid";
}

/** Finds the credential behind a secret, accepting only the given kinds. */
export async function lookupCredential(
  db: Database,
  secret: string,
  kinds: readonly CredentialKind[],
  now = Date.now(),
): Promise<LookupResult> {
  const rows = await db
    .select({ credential: credentials, principal: principals })
    .from(credentials)
    .innerJoin(principals, eq(credentials.principalId, principals.id))
    .where(eq(credentials.tokenHash, await sha256Hex(secret)))
    .limit(1);
  const row = rows[0];
  if (!row || !kinds.includes(row.credential.kind)) return { status: "unknown" };
  const { credential, principal } = row;
  const status = stateOf(credential, principal, now);
  if (status !== "valid") return { status, credential, principal };
  if (!credential.lastUsedAt || now - credential.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
    await db
      .update(credentials)
      .set({ lastUsedAt: new Date(now) })
      .where(eq(credentials.id, credential.id));
    credential.lastUsedAt = new Date(now);
  }
  return { status: "valid", credential, principal };
}

export async function revokeCredential(db: Database, id: string, reason: string, now = Date.now()): Promise<void> {
  await db
    .update(credentials)
    .set({ revokedAt: new Date(now), revokedReason: reason })
    .where(and(eq(credentials.id, id), isNull(credentials.revokedAt)));
}

/** Ends every refresh token of one login, e.g. when a rotated one is replayed. */
export async function revokeFamily(db: Database, familyId: string, reason: string, now = Date.now()): Promise<void> {
  await db
    .update(credentials)
    .set({ revokedAt: new Date(now), revokedReason: reason })
    .where(and(eq(credentials.familyId, familyId), isNull(credentials.revokedAt)));
}

/**
 * Marks `id` as replaced, but only if nobody else replaced it first: of two
 * concurrent refreshes with the same token, exactly one wins.
 */
export async function markReplaced(db: Database, id: string, replacedBy: string, now = Date.now()): Promise<boolean> {
  const result = await db
    .update(credentials)
    .set({ revokedAt: new Date(now), revokedReason: "rotated", replacedBy })
    .where(and(eq(credentials.id, id), isNull(credentials.revokedAt)))
    .returning({ id: credentials.id });
  return result.length === 1;
}
