/**
 * Contract 000 guest credentials: the gg_session cookie (POST/GET/DELETE
 * /auth/session) and the X-API-Key → api_key query → gg_session precedence of
 * authenticateGeneration, pinned through a probe route (see helpers/probe.ts).
 * Errors are {code, detail, user_action} with the original lowercase codes.
 */
import { describe, expect, it } from "vitest";
import {
  ago,
  credentialFor,
  expectAuthFailedAudit,
  makeAdmin,
  makeAgent,
  makeApiKey,
  makeGuestSession,
  makeUser,
  updateCredential,
  updatePrincipal,
} from "../helpers/fixtures";
import { call, cookieNamed, expect000, expectCleared, expectCookieFlags, uniqueIp } from "../helpers/http";
import { callProbe, PROBES } from "../helpers/probe";

describe("000 gg_session cookie on /auth/session", () => {
  it("POST /auth/session answers 204 and sets an HttpOnly, SameSite=Lax, Secure gg_session that GET accepts", async () => {
    const created = await call("/auth/session", { method: "POST" });
    expect(created.status).toBe(204);
    const cookie = cookieNamed(created, "gg_session");
    expectCookieFlags(cookie, { sameSite: "Lax", path: "/", secure: true, maxAge: 24 * 3600 });
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{64}$/);

    const checked = await call("/auth/session", { cookies: { gg_session: cookie.value } });
    expect(checked.status).toBe(200);
    const body = (await checked.json()) as { valid: boolean; active: boolean; expires_at: string };
    expect(body).toEqual({ valid: true, active: true, expires_at: expect.any(String) });
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now() + 23 * 3600 * 1000);
  });

  it("over plain http the gg_session cookie carries no Secure flag", async () => {
    const created = await call("/auth/session", { method: "POST", scheme: "http" });
    expect(created.status).toBe(204);
    expectCookieFlags(cookieNamed(created, "gg_session"), { sameSite: "Lax", path: "/", secure: false });
  });

  it("stores only the session's hash: no credential row holds the cookie value", async () => {
    const created = await call("/auth/session", { method: "POST" });
    const { value } = cookieNamed(created, "gg_session");
    const row = await credentialFor(value);
    expect(row.kind).toBe("guest_session");
    expect(JSON.stringify(row)).not.toContain(value);
  });

  it("GET without a cookie is 401 generation_session_missing and is audited", async () => {
    const ip = uniqueIp();
    const response = await call("/auth/session", { ip });
    const body = await expect000(response, 401, "generation_session_missing");
    expect(body.user_action).toContain("POST /auth/session");
    await expectAuthFailedAudit(response, { credential: "gg_session", reason: "missing", ip });
  });

  it("GET with a malformed cookie is 401 generation_session_invalid and is audited", async () => {
    const response = await call("/auth/session", { cookies: { gg_session: "not-a-session" } });
    await expect000(response, 401, "generation_session_invalid");
    await expectAuthFailedAudit(response, { credential: "gg_session", reason: "unknown" });
  });

  it("GET with an expired session is 401 generation_session_expired", async () => {
    const session = await makeGuestSession();
    await updateCredential(session.id, { expiresAt: ago(1) });
    const response = await call("/auth/session", { cookies: { gg_session: session.secret } });
    await expect000(response, 401, "generation_session_expired");
    await expectAuthFailedAudit(response, { credential: "gg_session", reason: "expired" });
  });

  it("GET with a revoked session is 401 generation_session_invalid", async () => {
    const session = await makeGuestSession();
    await updateCredential(session.id, { revokedAt: ago(1), revokedReason: "test" });
    const response = await call("/auth/session", { cookies: { gg_session: session.secret } });
    await expect000(response, 401, "generation_session_invalid");
    await expectAuthFailedAudit(response, { credential: "gg_session", reason: "revoked" });
  });

  it("DELETE revokes the session and clears the cookie; the same cookie is then refused", async () => {
    const session = await makeGuestSession();
    const deleted = await call("/auth/session", { method: "DELETE", cookies: { gg_session: session.secret } });
    expect(deleted.status).toBe(204);
    expectCleared(deleted, "gg_session");
    expect(cookieNamed(deleted, "gg_session").attributes.secure).toBe(true);
    expect((await credentialFor(session.secret)).revokedReason).toBe("signed_out");

    const again = await call("/auth/session", { cookies: { gg_session: session.secret } });
    await expect000(again, 401, "generation_session_invalid");
    const deleteAgain = await call("/auth/session", { method: "DELETE", cookies: { gg_session: session.secret } });
    await expect000(deleteAgain, 401, "generation_session_invalid");
  });

  it("DELETE without a cookie is 401 generation_session_missing", async () => {
    await expect000(await call("/auth/session", { method: "DELETE" }), 401, "generation_session_missing");
  });

  it("other credentials in the gg_session cookie are not sessions: an API key, an admin session", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const admin = await makeAdmin();
    for (const value of [key.secret, admin.key]) {
      const response = await call("/auth/session", { cookies: { gg_session: value } });
      await expect000(response, 401, "generation_session_invalid");
    }
  });
});

describe("000 X-API-Key → api_key query → gg_session precedence (probe route)", () => {
  it("a valid X-API-Key authenticates as the key's user", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const response = await callProbe(PROBES.generation, { headers: { "x-api-key": key.secret } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ principal_id: user.id, via: "api_key", kind: "user" });
  });

  it("a valid api_key query parameter authenticates when no header is sent", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const response = await callProbe(`${PROBES.generation}?api_key=${encodeURIComponent(key.secret)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ principal_id: user.id, via: "api_key" });
  });

  it("the gg_session cookie is the fallback when neither key is sent", async () => {
    const session = await makeGuestSession();
    const response = await callProbe(PROBES.generation, { cookies: { gg_session: session.secret } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ principal_id: session.guestId, via: "guest_session" });
  });

  it("the header wins over the query: valid header + bad query passes, bad header + valid query is 403", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const good = await callProbe(`${PROBES.generation}?api_key=bogus`, { headers: { "x-api-key": key.secret } });
    expect(good.status).toBe(200);
    const query = `?api_key=${encodeURIComponent(key.secret)}`;
    const bad = await callProbe(`${PROBES.generation}${query}`, { headers: { "x-api-key": "bogus" } });
    await expect000(bad, 403, "invalid_api_key");
  });

  it("a present but bad key is 403 invalid_api_key even with a valid gg_session (the cookie is not consulted)", async () => {
    const session = await makeGuestSession();
    const viaHeader = await callProbe(PROBES.generation, {
      headers: { "x-api-key": "mek_bogus" },
      cookies: { gg_session: session.secret },
    });
    await expect000(viaHeader, 403, "invalid_api_key");
    await expectAuthFailedAudit(viaHeader, { credential: "api_key", reason: "unknown" });
    const viaQuery = await callProbe(`${PROBES.generation}?api_key=`, { cookies: { gg_session: session.secret } });
    await expect000(viaQuery, 403, "invalid_api_key");
  });

  it("no credential at all is 401 generation_session_missing", async () => {
    const response = await callProbe(PROBES.generation);
    await expect000(response, 401, "generation_session_missing");
    await expectAuthFailedAudit(response, { credential: "gg_session", reason: "missing" });
  });

  it("an expired API key is 403 invalid_api_key, audited as expired", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    await updateCredential(key.id, { expiresAt: ago(1) });
    const response = await callProbe(PROBES.generation, { headers: { "x-api-key": key.secret } });
    await expect000(response, 403, "invalid_api_key");
    await expectAuthFailedAudit(response, { credential: "api_key", reason: "expired" });
  });

  it("a revoked API key, or one whose user is disabled, is 403 invalid_api_key", async () => {
    const user = await makeUser();
    const revoked = await makeApiKey(user.id);
    await updateCredential(revoked.id, { revokedAt: ago(1) });
    const response = await callProbe(PROBES.generation, { headers: { "x-api-key": revoked.secret } });
    await expect000(response, 403, "invalid_api_key");
    await expectAuthFailedAudit(response, { credential: "api_key", reason: "revoked" });

    const other = await makeUser();
    const key = await makeApiKey(other.id);
    await updatePrincipal(other.id, { disabledAt: ago(1) });
    await expect000(
      await callProbe(PROBES.generation, { headers: { "x-api-key": key.secret } }),
      403,
      "invalid_api_key",
    );
  });

  it("an agent token, an admin key or a session cookie value sent as X-API-Key is 403 invalid_api_key", async () => {
    const agent = await makeAgent();
    const admin = await makeAdmin();
    const session = await makeGuestSession();
    for (const secret of [agent.token, admin.key, session.secret]) {
      const response = await callProbe(PROBES.generation, { headers: { "x-api-key": secret } });
      await expect000(response, 403, "invalid_api_key");
    }
  });
});
