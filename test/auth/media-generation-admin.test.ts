/**
 * Contract 000 admin credentials: the x-admin-key header (accepted only by
 * POST /admin/session, never from a query string) and the gg_admin_session
 * cookie with its idle timeout; POST /admin/agents shows a token once.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../worker/auth/crypto";
import { AGENT_SCOPES } from "../../worker/contracts/scopes";
import {
  ago,
  auditFor,
  credentialFor,
  expectAuthFailedAudit,
  makeAdmin,
  makeAdminSession,
  makeApiKey,
  makeGuestSession,
  makeUser,
  uniqueName,
  updateCredential,
} from "../helpers/fixtures";
import { call, cookieNamed, expect000, expectCleared, expectCookieFlags, setCookies, uniqueIp } from "../helpers/http";

describe("000 POST /admin/session (x-admin-key bootstrap)", () => {
  it("a valid x-admin-key sets an HttpOnly, SameSite=Strict, Secure gg_admin_session and audits admin_session_create", async () => {
    const admin = await makeAdmin();
    const response = await call("/admin/session", { method: "POST", headers: { "x-admin-key": admin.key } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      valid: true,
      active: true,
      expires_at: expect.any(String),
      idle_timeout_seconds: 12 * 3600,
    });
    const cookie = cookieNamed(response, "gg_admin_session");
    expectCookieFlags(cookie, { sameSite: "Strict", path: "/", secure: true, maxAge: 7 * 24 * 3600 });
    expect((await credentialFor(cookie.value)).kind).toBe("admin_session");

    const rows = await auditFor(response);
    expect(rows).toEqual([
      expect.objectContaining({ action: "admin_session_create", success: true, principalId: admin.id }),
    ]);
    expect(JSON.stringify(rows)).not.toContain(admin.key);
  });

  it("over plain http the gg_admin_session cookie carries no Secure flag", async () => {
    const admin = await makeAdmin();
    const response = await call("/admin/session", {
      method: "POST",
      headers: { "x-admin-key": admin.key },
      scheme: "http",
    });
    expect(response.status).toBe(200);
    expectCookieFlags(cookieNamed(response, "gg_admin_session"), { sameSite: "Strict", path: "/", secure: false });
  });

  it("no x-admin-key header is 401 unauthenticated, audited", async () => {
    const response = await call("/admin/session", { method: "POST" });
    await expect000(response, 401, "unauthenticated");
    await expectAuthFailedAudit(response, { credential: "admin_key", reason: "missing" });
  });

  it("a wrong admin key is 403 invalid_admin_key, audited, and sets no cookie", async () => {
    const response = await call("/admin/session", { method: "POST", headers: { "x-admin-key": "mea_wrong" } });
    await expect000(response, 403, "invalid_admin_key");
    expect(setCookies(response)).toEqual([]);
    await expectAuthFailedAudit(response, { credential: "admin_key", reason: "unknown" });
  });

  it("an expired or revoked admin key is 403 invalid_admin_key", async () => {
    const expired = await makeAdmin();
    await updateCredential(expired.keyId, { expiresAt: ago(1) });
    const revoked = await makeAdmin();
    await updateCredential(revoked.keyId, { revokedAt: ago(1) });
    for (const [key, reason] of [
      [expired.key, "expired"],
      [revoked.key, "revoked"],
    ] as const) {
      const response = await call("/admin/session", { method: "POST", headers: { "x-admin-key": key } });
      await expect000(response, 403, "invalid_admin_key");
      await expectAuthFailedAudit(response, { credential: "admin_key", reason });
    }
  });

  it("a user's API key or a guest session is not an admin key: 403 invalid_admin_key", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const guest = await makeGuestSession();
    for (const secret of [key.secret, guest.secret]) {
      const response = await call("/admin/session", { method: "POST", headers: { "x-admin-key": secret } });
      await expect000(response, 403, "invalid_admin_key");
    }
  });

  it("an admin key in the query string is refused with 400 even when valid, and no session is created", async () => {
    const admin = await makeAdmin();
    for (const param of ["x-admin-key", "admin_key"]) {
      const bare = await call(`/admin/session?${param}=${encodeURIComponent(admin.key)}`, { method: "POST" });
      await expect000(bare, 400, "bad_request");
      expect(setCookies(bare)).toEqual([]);
      await expectAuthFailedAudit(bare, { credential: "admin_key", reason: "query_string" });
      const withHeader = await call(`/admin/session?${param}=${encodeURIComponent(admin.key)}`, {
        method: "POST",
        headers: { "x-admin-key": admin.key },
      });
      await expect000(withHeader, 400, "bad_request");
      expect(setCookies(withHeader)).toEqual([]);
    }
  });
});

describe("000 gg_admin_session on GET/DELETE /admin/session", () => {
  it("a valid cookie answers 200 and the read is audited as admin_session_get", async () => {
    const session = await makeAdminSession();
    const response = await call("/admin/session", { cookies: { gg_admin_session: session.secret } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ valid: true, active: true, idle_timeout_seconds: 12 * 3600 });
    expect(await auditFor(response)).toEqual([
      expect.objectContaining({ action: "admin_session_get", success: true, principalId: session.adminId }),
    ]);
  });

  it("no cookie is 401 admin_session_required, audited", async () => {
    const response = await call("/admin/session");
    await expect000(response, 401, "admin_session_required");
    await expectAuthFailedAudit(response, { credential: "gg_admin_session", reason: "missing" });
  });

  it("a bare x-admin-key on GET /admin/session is 401 admin_session_required pointing at POST /admin/session", async () => {
    const admin = await makeAdmin();
    const response = await call("/admin/session", { headers: { "x-admin-key": admin.key } });
    const body = await expect000(response, 401, "admin_session_required");
    expect(body.user_action).toContain("POST /admin/session");
    await expectAuthFailedAudit(response, { credential: "gg_admin_session" });
  });

  it("a malformed cookie, or a guest session in the admin cookie, is 401 admin_session_required", async () => {
    const guest = await makeGuestSession();
    for (const value of ["garbage", guest.secret]) {
      const response = await call("/admin/session", { cookies: { gg_admin_session: value } });
      await expect000(response, 401, "admin_session_required");
      await expectAuthFailedAudit(response, { credential: "gg_admin_session", reason: "unknown" });
    }
  });

  it("after the idle timeout (last_used_at far in the past) the session is 401 admin_session_expired", async () => {
    const session = await makeAdminSession();
    await updateCredential(session.id, { lastUsedAt: ago(13 * 3600) });
    const response = await call("/admin/session", { cookies: { gg_admin_session: session.secret } });
    await expect000(response, 401, "admin_session_expired");
    await expectAuthFailedAudit(response, { credential: "gg_admin_session", reason: "expired" });
  });

  it("past its hard lifetime the session is 401 admin_session_expired even if recently used", async () => {
    const session = await makeAdminSession();
    await updateCredential(session.id, { expiresAt: ago(1), lastUsedAt: ago(5) });
    const response = await call("/admin/session", { cookies: { gg_admin_session: session.secret } });
    await expect000(response, 401, "admin_session_expired");
  });

  it("a revoked session is 401 admin_session_required", async () => {
    const session = await makeAdminSession();
    await updateCredential(session.id, { revokedAt: ago(1) });
    const response = await call("/admin/session", { cookies: { gg_admin_session: session.secret } });
    await expect000(response, 401, "admin_session_required");
    await expectAuthFailedAudit(response, { credential: "gg_admin_session", reason: "revoked" });
  });

  it("DELETE ends the session, clears the cookie and audits admin_session_delete; the cookie is then refused", async () => {
    const session = await makeAdminSession();
    const deleted = await call("/admin/session", { method: "DELETE", cookies: { gg_admin_session: session.secret } });
    expect(deleted.status).toBe(204);
    expectCleared(deleted, "gg_admin_session");
    expect(await auditFor(deleted)).toEqual([
      expect.objectContaining({ action: "admin_session_delete", success: true }),
    ]);
    const after = await call("/admin/session", { cookies: { gg_admin_session: session.secret } });
    await expect000(after, 401, "admin_session_required");
  });
});

describe("000 POST /admin/agents", () => {
  it("shows the agent token once, stores only its hash, audits agent_create, and the token works on 003", async () => {
    const session = await makeAdminSession();
    const name = uniqueName("bridge");
    const response = await call("/admin/agents", {
      json: { name },
      cookies: { gg_admin_session: session.secret },
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { agent_id: number; token: string; scopes: string[] };
    expect(body).toEqual({
      agent_id: expect.any(Number),
      name,
      capacity_account_id: "local",
      scopes: AGENT_SCOPES,
      token: expect.stringMatching(/^agt_[A-Za-z0-9_-]{64}$/),
    });

    const tables = ["credentials", "principals", "audit_events", "idempotency_records"];
    for (const table of tables) {
      const { results } = await env.DB.prepare(`SELECT * FROM ${table}`).all();
      expect(JSON.stringify(results), table).not.toContain(body.token);
    }
    const row = await credentialFor(body.token);
    expect(row).toMatchObject({
      kind: "agent_token",
      principalId: body.agent_id,
      tokenHash: await sha256Hex(body.token),
    });
    expect(await auditFor(response)).toEqual([
      expect.objectContaining({ action: "agent_create", success: true, principalId: session.adminId }),
    ]);

    const actor = await call("/api/v1/actor", { bearer: body.token });
    expect(actor.status).toBe(200);
    expect(await actor.json()).toEqual({
      principal_id: body.agent_id,
      actor_kind: "agent",
      via: "agent_token",
      scopes: AGENT_SCOPES,
      capacity_account_id: "local",
    });
  });

  it("without an admin session, or with a bare x-admin-key, POST /admin/agents is 401 admin_session_required", async () => {
    const admin = await makeAdmin();
    const ip = uniqueIp();
    for (const headers of [{}, { "x-admin-key": admin.key }] as Record<string, string>[]) {
      const response = await call("/admin/agents", { json: { name: uniqueName("bridge") }, headers, ip });
      await expect000(response, 401, "admin_session_required");
      await expectAuthFailedAudit(response, { credential: "gg_admin_session", ip });
    }
  });

  it("a refused agent creation is audited as agent_create with success false", async () => {
    const session = await makeAdminSession();
    const response = await call("/admin/agents", {
      json: { name: uniqueName("bridge"), capacity_account_id: "no-such-account" },
      cookies: { gg_admin_session: session.secret },
    });
    await expect000(response, 404, "not_found");
    expect(await auditFor(response)).toEqual([
      expect.objectContaining({ action: "agent_create", success: false, details: { code: "not_found" } }),
    ]);
  });
});
