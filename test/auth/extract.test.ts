/**
 * Contract 004 credentials: the x-api-key header, and the signed short-lived
 * data_extract_session cookie made from an API key by POST /api/v1/auth/session.
 * GET /api/v1/health needs either only with detailed=true. Errors are {detail}.
 */
import { describe, expect, it } from "vitest";
import {
  ago,
  expectAuthFailedAudit,
  makeAgent,
  makeApiKey,
  makeSignedToken,
  makeUser,
  updateCredential,
  updatePrincipal,
} from "../helpers/fixtures";
import {
  call,
  cookieNamed,
  expectCleared,
  expectCookieFlags,
  expectDetail,
  locations,
  setCookies,
} from "../helpers/http";

const DETAILED = "/api/v1/health?detailed=true";

async function userWithKey() {
  const user = await makeUser();
  return { user, key: await makeApiKey(user.id) };
}

const startSession = (apiKey: string, scheme: "https" | "http" = "https") =>
  call("/api/v1/auth/session", { json: { api_key: apiKey }, scheme });

const sessionStatus = async (cookie?: string) => {
  const response = await call("/api/v1/auth/session", { cookies: cookie ? { data_extract_session: cookie } : {} });
  expect(response.status).toBe(200);
  return response.json();
};

describe("004 x-api-key on GET /api/v1/health?detailed=true", () => {
  it("without detailed, health needs no credential", async () => {
    const response = await call("/api/v1/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", ready: true, timestamp: expect.any(String) });
  });

  it("a valid key answers readiness and the security posture, cookies_secure following the scheme", async () => {
    const { key } = await userWithKey();
    for (const [scheme, secure] of [
      ["https", true],
      ["http", false],
    ] as const) {
      const response = await call(DETAILED, { headers: { "x-api-key": key.secret }, scheme });
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ status: "ok", ready: true, readiness: expect.any(Object) });
      expect(body.security_policy).toMatchObject({ auth_required: true, cookies_secure: secure });
      expect(JSON.stringify(body)).not.toContain(key.secret);
    }
  });

  it("no credential is 401 {detail: 'Unauthorized'}, audited", async () => {
    const response = await call(DETAILED);
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "extract_cookie", reason: "missing" });
  });

  it("a malformed key is 401 {detail: 'Unauthorized'}, audited", async () => {
    for (const key of ["nope", ""]) {
      const response = await call(DETAILED, { headers: { "x-api-key": key } });
      await expectDetail(response, 401, "Unauthorized");
      await expectAuthFailedAudit(response, { credential: "api_key", reason: "unknown" });
    }
  });

  it("an expired, revoked or disabled user's key is 401 {detail: 'Unauthorized'}", async () => {
    const expired = await userWithKey();
    await updateCredential(expired.key.id, { expiresAt: ago(1) });
    const revoked = await userWithKey();
    await updateCredential(revoked.key.id, { revokedAt: ago(1) });
    const disabled = await userWithKey();
    await updatePrincipal(disabled.user.id, { disabledAt: ago(1) });
    for (const [secret, reason] of [
      [expired.key.secret, "expired"],
      [revoked.key.secret, "revoked"],
      [disabled.key.secret, "revoked"],
    ] as const) {
      const response = await call(DETAILED, { headers: { "x-api-key": secret } });
      await expectDetail(response, 401, "Unauthorized");
      await expectAuthFailedAudit(response, { credential: "api_key", reason });
    }
  });

  it("an agent token as x-api-key is 401 {detail: 'Unauthorized'}", async () => {
    const agent = await makeAgent();
    await expectDetail(await call(DETAILED, { headers: { "x-api-key": agent.token } }), 401, "Unauthorized");
  });

  it("a present but bad x-api-key is refused even with a valid session cookie", async () => {
    const { key } = await userWithKey();
    const cookie = cookieNamed(await startSession(key.secret), "data_extract_session").value;
    const response = await call(DETAILED, {
      headers: { "x-api-key": "bogus" },
      cookies: { data_extract_session: cookie },
    });
    await expectDetail(response, 401, "Unauthorized");
  });
});

describe("004 data_extract_session cookie", () => {
  it("POST /api/v1/auth/session sets a signed HttpOnly, SameSite=Strict, Secure cookie valid for 15 minutes", async () => {
    const { key } = await userWithKey();
    const response = await startSession(key.secret);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { expires_at: string };
    expect(body).toEqual({ authenticated: true, api_key_configured: true, expires_at: expect.any(String) });
    expect(Date.parse(body.expires_at) - Date.now()).toBeLessThanOrEqual(900 * 1000);
    const cookie = cookieNamed(response, "data_extract_session");
    expectCookieFlags(cookie, { sameSite: "Strict", path: "/", secure: true, maxAge: 900 });
    expect(cookie.value).not.toContain(key.secret);

    expect(await sessionStatus(cookie.value)).toEqual({ ...body, authenticated: true });
    const health = await call(DETAILED, { cookies: { data_extract_session: cookie.value } });
    expect(health.status).toBe(200);
  });

  it("over plain http the session cookie carries no Secure flag", async () => {
    const { key } = await userWithKey();
    const response = await startSession(key.secret, "http");
    expect(response.status).toBe(200);
    expectCookieFlags(cookieNamed(response, "data_extract_session"), { sameSite: "Strict", path: "/", secure: false });
  });

  it("a wrong, expired or revoked API key is 401 {detail: 'Invalid API key'}, audited, with no cookie", async () => {
    const expired = await userWithKey();
    await updateCredential(expired.key.id, { expiresAt: ago(1) });
    const revoked = await userWithKey();
    await updateCredential(revoked.key.id, { revokedAt: ago(1) });
    for (const [secret, reason] of [
      ["mek_wrong", "unknown"],
      [expired.key.secret, "expired"],
      [revoked.key.secret, "revoked"],
    ] as const) {
      const response = await startSession(secret);
      expect(setCookies(response)).toEqual([]);
      await expectDetail(response, 401, "Invalid API key");
      await expectAuthFailedAudit(response, { credential: "api_key", reason });
    }
  });

  it("a missing api_key is 422 with a {loc, msg, type} list", async () => {
    const body = await expectDetail(await call("/api/v1/auth/session", { json: {} }), 422, "list");
    expect(locations(body)).toEqual([["body", "api_key"]]);
  });

  it("GET /api/v1/auth/session never answers 401: without a cookie it reports unauthenticated", async () => {
    expect(await sessionStatus()).toEqual({ authenticated: false, api_key_configured: true, expires_at: null });
    expect(await sessionStatus("garbage")).toMatchObject({ authenticated: false });
  });

  it("a malformed cookie is 401 on detailed health, audited as invalid", async () => {
    const response = await call(DETAILED, { cookies: { data_extract_session: "garbage" } });
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "extract_cookie", reason: "invalid" });
  });

  it("an expired cookie is 401 and reported unauthenticated", async () => {
    const { user, key } = await userWithKey();
    const cookie = await makeSignedToken("extract", user.id, -1, key.id);
    const response = await call(DETAILED, { cookies: { data_extract_session: cookie } });
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "extract_cookie", reason: "expired" });
    expect(await sessionStatus(cookie)).toMatchObject({ authenticated: false });
  });

  it("revoking the API key a cookie came from ends the cookie's session", async () => {
    const { key } = await userWithKey();
    const cookie = cookieNamed(await startSession(key.secret), "data_extract_session").value;
    await updateCredential(key.id, { revokedAt: ago(1) });
    const response = await call(DETAILED, { cookies: { data_extract_session: cookie } });
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "extract_cookie", reason: "revoked" });
    expect(await sessionStatus(cookie)).toMatchObject({ authenticated: false });
  });

  it("a cookie signed before the user's token version was raised is 401", async () => {
    const { user, key } = await userWithKey();
    const cookie = await makeSignedToken("extract", user.id, 600, key.id);
    expect((await call(DETAILED, { cookies: { data_extract_session: cookie } })).status).toBe(200);
    await updatePrincipal(user.id, { tokenVersion: 1 });
    const response = await call(DETAILED, { cookies: { data_extract_session: cookie } });
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "extract_cookie", reason: "revoked" });
  });

  it("a signed token without the key it came from, for another audience, or naming another user's key is 401", async () => {
    const { user, key } = await userWithKey();
    const other = await userWithKey();
    const cookies = [
      await makeSignedToken("extract", user.id),
      await makeSignedToken("pipeline", user.id, 600, key.id),
      await makeSignedToken("story", user.id, 600, key.id),
      await makeSignedToken("extract", user.id, 600, other.key.id),
    ];
    for (const cookie of cookies) {
      await expectDetail(await call(DETAILED, { cookies: { data_extract_session: cookie } }), 401, "Unauthorized");
    }
  });

  it("DELETE /api/v1/auth/session clears the cookie and reports unauthenticated", async () => {
    const { key } = await userWithKey();
    const cookie = cookieNamed(await startSession(key.secret), "data_extract_session").value;
    const response = await call("/api/v1/auth/session", {
      method: "DELETE",
      cookies: { data_extract_session: cookie },
    });
    expect(response.status).toBe(200);
    expectCleared(response, "data_extract_session");
    expect(await response.json()).toEqual({ authenticated: false, api_key_configured: true, expires_at: null });
  });
});
