/**
 * Contract 001 bearer JWTs: minted by the form login or by the exchange (which
 * needs X-Exchange-Secret), checked by GET /api/auth/me. Errors are {detail}.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  auditFor,
  expectAuthFailedAudit,
  makeApiKey,
  makeBackdatedToken,
  makeSignedToken,
  makeUser,
  updatePrincipal,
} from "../helpers/fixtures";
import { call, expectDetail, locations, setCookies, uniqueIp } from "../helpers/http";

const EXCHANGE_SECRET = env.EXCHANGE_SECRET ?? "";

async function login(username: string, password: string, ip = uniqueIp()) {
  return call("/api/auth/login", { form: { username, password }, ip });
}

async function me(token: string) {
  return call("/api/auth/me", { bearer: token });
}

describe("001 POST /api/auth/login (form)", () => {
  it("valid e-mail and password answer a bearer token that /api/auth/me accepts, and set no cookie", async () => {
    const user = await makeUser();
    const response = await login(user.email, user.password);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body).toEqual({ access_token: expect.stringMatching(/^ey/), token_type: "bearer" });
    expect(setCookies(response)).toEqual([]);

    const who = await me(body.access_token);
    expect(who.status).toBe(200);
    expect(await who.json()).toEqual({ id: user.id, email: user.email, created_at: expect.any(String) });
  });

  it("the username works as the login handle too, case-insensitively", async () => {
    const user = await makeUser();
    expect((await login(user.username.toUpperCase(), user.password)).status).toBe(200);
  });

  it("a wrong password or an unknown user is 401 {detail} with WWW-Authenticate, audited", async () => {
    const user = await makeUser();
    for (const [username, password] of [
      [user.email, "wrong-password"],
      ["nobody@example.test", "whatever-password"],
    ] as const) {
      const ip = uniqueIp();
      const response = await login(username, password, ip);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
      await expectDetail(response, 401, "Incorrect email or password");
      await expectAuthFailedAudit(response, { credential: "password", reason: "mismatch", ip });
    }
  });

  it("a disabled user cannot log in: 401", async () => {
    const user = await makeUser();
    await updatePrincipal(user.id, { disabledAt: new Date() });
    await expectDetail(await login(user.email, user.password), 401, "Incorrect email or password");
  });

  it("multipart form data logs in too; a JSON body is 415 {detail}", async () => {
    const user = await makeUser();
    const form = new FormData();
    form.set("username", user.email);
    form.set("password", user.password);
    const multipart = await SELF.fetch("https://edge.test/api/auth/login", {
      method: "POST",
      body: form,
      headers: { "cf-connecting-ip": uniqueIp() },
    });
    expect(multipart.status).toBe(200);
    const json = await call("/api/auth/login", { json: { username: user.email, password: user.password } });
    await expectDetail(json, 415, "Unsupported Media Type");
  });

  it("missing form fields are 422 with a {loc, msg, type} list", async () => {
    const response = await call("/api/auth/login", { form: { username: "someone" } });
    const body = await expectDetail(response, 422, "list");
    expect(locations(body)).toEqual([["body", "password"]]);
  });
});

describe("001 POST /api/auth/exchange", () => {
  it("with the shared secret, a known e-mail is exchanged for a working token and the exchange is audited", async () => {
    const user = await makeUser();
    const response = await call("/api/auth/exchange", {
      json: { email: user.email.toUpperCase() },
      headers: { "x-exchange-secret": EXCHANGE_SECRET },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("bearer");
    expect(await auditFor(response)).toEqual([
      expect.objectContaining({ action: "auth_exchange", success: true, target: `user:${user.id}` }),
    ]);
    expect(await (await me(body.access_token)).json()).toMatchObject({ id: user.id });
  });

  it("without X-Exchange-Secret it is 401 {detail} and writes an auth_failed audit row", async () => {
    const user = await makeUser();
    const ip = uniqueIp();
    const response = await call("/api/auth/exchange", { json: { email: user.email }, ip });
    await expectDetail(response, 401, "Exchange requires the server-side shared secret");
    await expectAuthFailedAudit(response, { credential: "exchange_secret", reason: "missing", ip });
  });

  it("with a wrong X-Exchange-Secret it is 401 {detail} and writes an auth_failed audit row", async () => {
    const user = await makeUser();
    for (const secret of ["wrong", `${EXCHANGE_SECRET}x`, EXCHANGE_SECRET.slice(0, -1)]) {
      const response = await call("/api/auth/exchange", {
        json: { email: user.email },
        headers: { "x-exchange-secret": secret },
      });
      await expectDetail(response, 401, "Exchange requires the server-side shared secret");
      await expectAuthFailedAudit(response, { credential: "exchange_secret", reason: "mismatch" });
    }
  });

  it("the secret is checked before the user is looked up: an unknown e-mail without it is 401, with it 404", async () => {
    const email = `nobody-${crypto.randomUUID()}@example.test`;
    await expectDetail(await call("/api/auth/exchange", { json: { email } }), 401);
    const known = await call("/api/auth/exchange", {
      json: { email },
      headers: { "x-exchange-secret": EXCHANGE_SECRET },
    });
    await expectDetail(known, 404, `User with email ${email} not found`);
  });
});

describe("001 GET /api/auth/me bearer checks", () => {
  it("no Authorization header is 401 'Not authenticated' with WWW-Authenticate: Bearer, audited", async () => {
    const response = await call("/api/auth/me");
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    await expectDetail(response, 401, "Not authenticated");
    await expectAuthFailedAudit(response, { credential: "pipeline_token", reason: "missing" });
  });

  it("a non-Bearer scheme or an empty bearer is 401 'Not authenticated'", async () => {
    for (const authorization of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  "]) {
      const response = await call("/api/auth/me", { headers: { authorization } });
      await expectDetail(response, 401, "Not authenticated");
      await expectAuthFailedAudit(response, { credential: "pipeline_token", reason: "malformed" });
    }
  });

  it("a malformed token, a wrong signature or a wrong issuer is 401 'Could not validate credentials'", async () => {
    const user = await makeUser();
    const tokens = [
      "not-a-jwt",
      "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
      await makeBackdatedToken("pipeline", user.id, { issuedSecondsAgo: 0, secret: "x".repeat(40) }),
      await makeBackdatedToken("pipeline", user.id, { issuedSecondsAgo: 0, issuer: "someone-else" }),
    ];
    for (const token of tokens) {
      const response = await me(token);
      await expectDetail(response, 401, "Could not validate credentials");
      await expectAuthFailedAudit(response, { credential: "pipeline_token", reason: "invalid" });
    }
  });

  it("an expired token is 401 'Token has expired'", async () => {
    const user = await makeUser();
    const response = await me(await makeSignedToken("pipeline", user.id, -60));
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    await expectDetail(response, 401, "Token has expired");
    await expectAuthFailedAudit(response, { credential: "pipeline_token", reason: "expired" });
  });

  it("a token signed before the user's token version was raised is 401 at once; one signed after works", async () => {
    const user = await makeUser();
    const old = await makeSignedToken("pipeline", user.id);
    expect((await me(old)).status).toBe(200);
    await updatePrincipal(user.id, { tokenVersion: 1 });
    const fresh = await makeSignedToken("pipeline", user.id, 600, undefined, 1);
    const response = await me(old);
    await expectDetail(response, 401, "Could not validate credentials");
    await expectAuthFailedAudit(response, { credential: "pipeline_token", reason: "revoked" });
    expect((await me(fresh)).status).toBe(200);
  });

  it("a token of a disabled user is 401", async () => {
    const user = await makeUser();
    const token = await makeSignedToken("pipeline", user.id);
    await updatePrincipal(user.id, { disabledAt: new Date() });
    const response = await me(token);
    await expectDetail(response, 401, "Could not validate credentials");
    await expectAuthFailedAudit(response, { credential: "pipeline_token", reason: "disabled" });
  });

  it("a user's API key used as a Bearer is 401 {detail}", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const response = await me(key.secret);
    await expectDetail(response, 401, "Could not validate credentials");
    await expectAuthFailedAudit(response, { credential: "pipeline_token", reason: "invalid" });
  });

  it("tokens for the story (002) or extract (004) audience are refused: 401", async () => {
    const user = await makeUser();
    for (const audience of ["story", "extract"] as const) {
      const response = await me(await makeSignedToken(audience, user.id));
      await expectDetail(response, 401, "Could not validate credentials");
    }
  });
});
