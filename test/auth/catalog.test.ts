/**
 * Contract 003 credentials: agent bearer tokens with scopes, and the UI's
 * HttpOnly retaia_session cookie whose mutating requests need X-CSRF-Token.
 * Errors are {code, message, details?, retryable, correlation_id} with the
 * correlation id echoed in X-Correlation-Id (and X-Request-Id).
 */
import { describe, expect, it } from "vitest";
import { AGENT_SCOPES, HUMAN_SCOPES } from "../../worker/contracts/scopes";
import {
  ago,
  credentialFor,
  expectAuthFailedAudit,
  makeAgent,
  makeApiKey,
  makeSignedToken,
  makeUiSession,
  makeUser,
  updateCredential,
  updatePrincipal,
} from "../helpers/fixtures";
import { call, cookieNamed, expect003, expectCleared, expectCookieFlags } from "../helpers/http";

const actor = (options: Parameters<typeof call>[1] = {}) => call("/api/v1/actor", options);

describe("003 agent bearer token on GET /api/v1/actor", () => {
  it("a valid agent token answers the agent, its scopes and capacity account", async () => {
    const agent = await makeAgent();
    const response = await actor({ bearer: agent.token });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      principal_id: agent.agentId,
      actor_kind: "agent",
      via: "agent_token",
      scopes: AGENT_SCOPES,
      capacity_account_id: "local",
    });
  });

  it("no credential is 401 UNAUTHORIZED with matching correlation ids, audited", async () => {
    const response = await actor();
    const body = await expect003(response, 401, "UNAUTHORIZED");
    expect(body.message).toBe("Authentication required");
    await expectAuthFailedAudit(response, { credential: "ui_session", reason: "missing" });
  });

  it("a malformed or empty bearer is 401 UNAUTHORIZED, audited", async () => {
    for (const authorization of ["Bearer agt_not-a-token", "Bearer", "Token abc"]) {
      const response = await actor({ headers: { authorization } });
      await expect003(response, 401, "UNAUTHORIZED");
      await expectAuthFailedAudit(response, { credential: "agent_token" });
    }
  });

  it("an expired agent token is 401 UNAUTHORIZED, audited as expired", async () => {
    const agent = await makeAgent();
    await updateCredential(agent.credentialId, { expiresAt: ago(1) });
    const response = await actor({ bearer: agent.token });
    await expect003(response, 401, "UNAUTHORIZED");
    await expectAuthFailedAudit(response, { credential: "agent_token", reason: "expired" });
  });

  it("a revoked agent token, or one of a disabled agent, is 401 UNAUTHORIZED", async () => {
    const revoked = await makeAgent();
    await updateCredential(revoked.credentialId, { revokedAt: ago(1) });
    const response = await actor({ bearer: revoked.token });
    await expect003(response, 401, "UNAUTHORIZED");
    await expectAuthFailedAudit(response, { credential: "agent_token", reason: "revoked" });

    const disabled = await makeAgent();
    await updatePrincipal(disabled.agentId, { disabledAt: ago(1) });
    await expect003(await actor({ bearer: disabled.token }), 401, "UNAUTHORIZED");
  });

  it("a user's API key, a UI session value or a 001 JWT as the bearer is 401 UNAUTHORIZED", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const session = await makeUiSession(user.id);
    const jwt = await makeSignedToken("pipeline", user.id);
    for (const bearer of [key.secret, session.secret, jwt]) {
      const response = await actor({ bearer });
      await expect003(response, 401, "UNAUTHORIZED");
      await expectAuthFailedAudit(response, { credential: "agent_token", reason: "unknown" });
    }
  });

  it("a bearer takes precedence over the UI cookie: a bad bearer with a valid cookie is 401", async () => {
    const user = await makeUser();
    const session = await makeUiSession(user.id);
    const response = await actor({ bearer: "agt_bogus", cookies: { retaia_session: session.secret } });
    await expect003(response, 401, "UNAUTHORIZED");
  });

  it("an agent cannot sign out a UI session: DELETE /api/v1/ui/session is 403 FORBIDDEN_ACTOR", async () => {
    const agent = await makeAgent();
    const response = await call("/api/v1/ui/session", { method: "DELETE", bearer: agent.token });
    await expect003(response, 403, "FORBIDDEN_ACTOR");
  });
});

describe("003 retaia_session UI cookie", () => {
  it("POST /api/v1/ui/session sets an HttpOnly, SameSite=Strict, Secure cookie and returns the CSRF token", async () => {
    const user = await makeUser();
    const response = await call("/api/v1/ui/session", { json: { username: user.username, password: user.password } });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { csrf_token: string };
    expect(body).toEqual({
      csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expires_at: expect.any(String),
      actor_kind: "human",
      scopes: HUMAN_SCOPES,
    });
    const cookie = cookieNamed(response, "retaia_session");
    expectCookieFlags(cookie, { sameSite: "Strict", path: "/", secure: true, maxAge: 12 * 3600 });
    const row = await credentialFor(cookie.value);
    expect(row.kind).toBe("ui_session");
    expect(JSON.stringify(row)).not.toContain(body.csrf_token);
    // The page can read the CSRF token back after a reload (double-submit cookie); the session it cannot.
    const csrf = cookieNamed(response, "retaia_csrf");
    expect(csrf.value).toBe(body.csrf_token);
    expect(csrf.attributes.httponly).toBeUndefined();
    expect(csrf.attributes).toMatchObject({ samesite: "Strict", secure: true });

    const who = await actor({ cookies: { retaia_session: cookie.value } });
    expect(who.status).toBe(200);
    expect(await who.json()).toEqual({
      principal_id: user.id,
      actor_kind: "human",
      via: "ui_session",
      scopes: HUMAN_SCOPES,
      capacity_account_id: null,
    });
  });

  it("over plain http the retaia_session cookie carries no Secure flag", async () => {
    const user = await makeUser();
    const response = await call("/api/v1/ui/session", {
      json: { username: user.email, password: user.password },
      scheme: "http",
    });
    expect(response.status).toBe(201);
    expectCookieFlags(cookieNamed(response, "retaia_session"), { sameSite: "Strict", path: "/", secure: false });
  });

  it("a wrong password is 401 UNAUTHORIZED with no cookie, audited", async () => {
    const user = await makeUser();
    const response = await call("/api/v1/ui/session", { json: { username: user.username, password: "nope-nope" } });
    expect(response.headers.getSetCookie()).toEqual([]);
    await expect003(response, 401, "UNAUTHORIZED");
    await expectAuthFailedAudit(response, { credential: "password", reason: "mismatch" });
  });

  it("a missing password is 422 VALIDATION_FAILED with the field in details.errors", async () => {
    const response = await call("/api/v1/ui/session", { json: { username: "someone" } });
    expect(response.status).toBe(422);
    const body = await expect003(response, 422, "VALIDATION_FAILED");
    expect(body.details).toEqual({
      errors: [{ loc: ["body", "password"], msg: expect.any(String), type: expect.any(String) }],
    });
  });

  it("a malformed, expired or revoked cookie is 401 UNAUTHORIZED, audited with its reason", async () => {
    const user = await makeUser();
    const expired = await makeUiSession(user.id);
    await updateCredential(expired.id, { expiresAt: ago(1) });
    const revoked = await makeUiSession(user.id);
    await updateCredential(revoked.id, { revokedAt: ago(1) });
    for (const [value, reason] of [
      ["garbage", "unknown"],
      [expired.secret, "expired"],
      [revoked.secret, "revoked"],
    ] as const) {
      const response = await actor({ cookies: { retaia_session: value } });
      await expect003(response, 401, "UNAUTHORIZED");
      await expectAuthFailedAudit(response, { credential: "ui_session", reason });
    }
  });

  it("a mutating request without X-CSRF-Token is 403 CSRF_INVALID; a wrong or another session's token too", async () => {
    const user = await makeUser();
    const session = await makeUiSession(user.id);
    const other = await makeUiSession(user.id);
    for (const [headers, reason] of [
      [{}, "csrf_missing"],
      [{ "x-csrf-token": "wrong" }, "csrf_mismatch"],
      [{ "x-csrf-token": other.csrf }, "csrf_mismatch"],
    ] as const) {
      const response = await call("/api/v1/ui/session", {
        method: "DELETE",
        headers,
        cookies: { retaia_session: session.secret },
      });
      await expect003(response, 403, "CSRF_INVALID");
      await expectAuthFailedAudit(response, { credential: "ui_session", reason });
    }
    expect((await credentialFor(session.secret)).revokedAt).toBeNull();
  });

  it("DELETE with the right CSRF token signs out: 204, cookie cleared, the cookie is then refused", async () => {
    const user = await makeUser();
    const session = await makeUiSession(user.id);
    const response = await call("/api/v1/ui/session", {
      method: "DELETE",
      headers: { "x-csrf-token": session.csrf },
      cookies: { retaia_session: session.secret },
    });
    expect(response.status).toBe(204);
    expectCleared(response, "retaia_session");
    await expect003(await actor({ cookies: { retaia_session: session.secret } }), 401, "UNAUTHORIZED");
  });

  it("an agent token in the retaia_session cookie is not a session: 401", async () => {
    const agent = await makeAgent();
    await expect003(await actor({ cookies: { retaia_session: agent.token } }), 401, "UNAUTHORIZED");
  });
});
