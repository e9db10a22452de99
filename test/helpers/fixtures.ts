/**
 * Test fixtures made through the worker's own core functions against the real
 * D1 binding: users, API keys, admin keys, agents, sessions and signed tokens.
 * Storage is not reset between tests, so every name is unique.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { expect } from "vitest";
import { randomSecret, sha256Hex } from "../../worker/auth/crypto";
import { type Audience, signToken } from "../../worker/auth/signed-tokens";
import { configFrom } from "../../worker/config";
import type { Scope } from "../../worker/contracts/scopes";
import { enrollAgent } from "../../worker/core/agents";
import { issueCredential } from "../../worker/core/credentials";
import { createGuest, createUser } from "../../worker/core/principals";
import { startRefreshFamily } from "../../worker/core/refresh-tokens";
import { type CredentialRow, database } from "../../worker/db/client";
import { auditEvents, credentials, principals } from "../../worker/db/schema";

export const db = () => database(env.DB);
export const config = () => configFrom(env);

/** A name unique across the whole run, valid as a username and an agent name. */
export function uniqueName(prefix = "u"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 13)}`;
}

export interface TestUser {
  id: number;
  username: string;
  email: string;
  password: string;
}

export async function makeUser(): Promise<TestUser> {
  const username = uniqueName("user");
  const email = `${username}@example.test`;
  const password = `pw-${crypto.randomUUID()}`;
  const row = await createUser(db(), { username, password, email });
  return { id: row.id, username, email, password };
}

export interface Secret {
  id: string;
  secret: string;
}

export async function makeApiKey(principalId: number): Promise<Secret> {
  const { id, secret } = await issueCredential(db(), { principalId, kind: "api_key", label: "test" });
  return { id, secret };
}

/** An admin principal and its admin key (the x-admin-key value). */
export async function makeAdmin(): Promise<{ id: number; key: string; keyId: string }> {
  const [row] = await db()
    .insert(principals)
    .values({ kind: "admin", username: uniqueName("admin") })
    .returning();
  if (!row) throw new Error("admin insert returned no row");
  const key = await issueCredential(db(), { principalId: row.id, kind: "admin_key", label: "test" });
  return { id: row.id, key: key.secret, keyId: key.id };
}

/** An admin session cookie value, as POST /admin/session would issue it. */
export async function makeAdminSession(adminId?: number): Promise<Secret & { adminId: number }> {
  const principalId = adminId ?? (await makeAdmin()).id;
  const { ADMIN_SESSION_MAX_S, ADMIN_SESSION_IDLE_S } = config();
  const { id, secret } = await issueCredential(db(), {
    principalId,
    kind: "admin_session",
    ttlSeconds: ADMIN_SESSION_MAX_S,
    idleTimeoutSeconds: ADMIN_SESSION_IDLE_S,
  });
  return { id, secret, adminId: principalId };
}

/** A guest principal and its gg_session cookie value. */
export async function makeGuestSession(): Promise<Secret & { guestId: number }> {
  const guest = await createGuest(db(), { concurrent: 2, daily: 20 });
  const { id, secret } = await issueCredential(db(), {
    principalId: guest.id,
    kind: "guest_session",
    ttlSeconds: config().GUEST_SESSION_TTL_S,
  });
  return { id, secret, guestId: guest.id };
}

/** A retaia_session cookie value for a user and the CSRF token bound to it. */
export async function makeUiSession(principalId: number): Promise<Secret & { csrf: string }> {
  const csrf = randomSecret(32);
  const { id, secret } = await issueCredential(db(), {
    principalId,
    kind: "ui_session",
    ttlSeconds: config().UI_SESSION_TTL_S,
    csrfHash: await sha256Hex(csrf),
  });
  return { id, secret, csrf };
}

export async function makeRefreshToken(principalId: number): Promise<Secret> {
  const { id, secret } = await startRefreshFamily(db(), principalId, config().STORY_REFRESH_TTL_S);
  return { id, secret };
}

export async function makeAgent(scopes?: Scope[]): Promise<{ agentId: number; token: string; credentialId: string }> {
  const agent = await enrollAgent(db(), { name: uniqueName("agent"), capacityAccountId: "local", scopes });
  const credential = await credentialFor(agent.token);
  return { agentId: agent.agentId, token: agent.token, credentialId: credential.id };
}

/** A token signed by the worker's own signer; a negative ttl yields one already expired. */
export async function makeSignedToken(
  audience: Audience,
  principalId: number,
  ttlSeconds = 600,
  credentialId?: string,
  tokenVersion = 0,
): Promise<string> {
  return (await signToken(config(), { audience, principalId, tokenVersion, ttlSeconds, credentialId })).token;
}

/** A token signed with jose directly, issued `issuedSecondsAgo` in the past, with any issuer or key. */
export async function makeBackdatedToken(
  audience: Audience,
  principalId: number,
  options: { issuedSecondsAgo: number; credentialId?: string; secret?: string; issuer?: string; tokenVersion?: number },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ver: options.tokenVersion ?? 0, ...(options.credentialId ? { cid: options.credentialId } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(options.issuer ?? "media-edge")
    .setAudience(audience)
    .setSubject(String(principalId))
    .setIssuedAt(now - options.issuedSecondsAgo)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(options.secret ?? config().JWT_SECRET));
}

export async function credentialFor(secret: string): Promise<CredentialRow> {
  const rows = await db()
    .select()
    .from(credentials)
    .where(eq(credentials.tokenHash, await sha256Hex(secret)))
    .limit(1);
  const row = rows[0];
  if (!row) throw new Error("no credential row for that secret");
  return row;
}

export async function updateCredential(id: string, patch: Partial<typeof credentials.$inferInsert>): Promise<void> {
  await db().update(credentials).set(patch).where(eq(credentials.id, id));
}

export async function updatePrincipal(id: number, patch: Partial<typeof principals.$inferInsert>): Promise<void> {
  await db().update(principals).set(patch).where(eq(principals.id, id));
}

export const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);

/** The audit rows written while serving one response, found by its X-Request-Id. */
export async function auditFor(response: Response) {
  const requestId = response.headers.get("x-request-id");
  if (!requestId) throw new Error("response has no X-Request-Id");
  return db().select().from(auditEvents).where(eq(auditEvents.requestId, requestId));
}

/** Exactly one auth_failed row for this response, naming the credential and reason. */
export async function expectAuthFailedAudit(
  response: Response,
  expected: { credential: string; reason?: string; ip?: string },
): Promise<void> {
  const rows = await auditFor(response);
  const failed = rows.filter((row) => row.action === "auth_failed");
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({
    success: false,
    details: expect.objectContaining({
      credential: expected.credential,
      ...(expected.reason ? { reason: expected.reason } : {}),
    }),
    ...(expected.ip ? { ip: expected.ip } : {}),
  });
}
