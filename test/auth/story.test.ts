/**
 * Contract 002 registration, login and the bearer access token. The access
 * token has no production consumer yet (/api/task… is still to come), so its
 * checks run through the probe route in helpers/probe.ts, under /api/task.
 * Errors are {detail}; validation errors a list of {loc, msg, type}.
 */
import { describe, expect, it } from "vitest";
import { expectAuthFailedAudit, makeSignedToken, makeUser, uniqueName, updatePrincipal } from "../helpers/fixtures";
import { call, cookieNamed, expectCookieFlags, expectDetail, locations, setCookies } from "../helpers/http";
import { callProbe, PROBES } from "../helpers/probe";

const register = (json: unknown) => call("/api/register", { json });
const login = (username: string, password: string, scheme: "https" | "http" = "https") =>
  call("/api/login", { json: { username, password }, scheme });

describe("002 POST /api/register", () => {
  it("registers a user and answers {id, username} with the username lower-cased", async () => {
    const username = uniqueName("Story");
    const response = await register({ username, password: "correct horse" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: expect.any(Number), username: username.toLowerCase() });
    expect(setCookies(response)).toEqual([]);
  });

  it("a duplicate username, in any case, is 400 {detail: 'Username already exists'}", async () => {
    const username = uniqueName("dup");
    expect((await register({ username, password: "long enough" })).status).toBe(200);
    for (const again of [username, username.toUpperCase()]) {
      await expectDetail(await register({ username: again, password: "long enough" }), 400, "Username already exists");
    }
  });

  it.each([
    ["an empty password", { password: "" }, ["body", "password"]],
    ["a 7-character password", { password: "1234567" }, ["body", "password"]],
    ["a blank 8-space password", { password: "        " }, ["body", "password"]],
    ["a 257-character password", { password: "p".repeat(257) }, ["body", "password"]],
    ["a 65-character username", { username: "u".repeat(65) }, ["body", "username"]],
    ["a 2-character username", { username: "ab" }, ["body", "username"]],
    ["a username with spaces", { username: "has space" }, ["body", "username"]],
    // With "@" allowed, registering someone's e-mail as a username blocked their e-mail login.
    ["a username that looks like an e-mail", { username: "victim@corp.example" }, ["body", "username"]],
    ["a missing username", { username: undefined }, ["body", "username"]],
  ])("%s is 422 with the field in the {loc, msg, type} list", async (_name, patch, loc) => {
    const response = await register({ username: uniqueName("rule"), password: "long enough", ...patch });
    const body = await expectDetail(response, 422, "list");
    // A value may break several rules of one field (empty is both short and blank).
    expect(locations(body)).toContainEqual(loc);
    expect(new Set(locations(body).map((at) => JSON.stringify(at)))).toEqual(new Set([JSON.stringify(loc)]));
  });

  it("a password of exactly 256 characters and a username of exactly 64 are accepted", async () => {
    const username = `${uniqueName("edge")}`.padEnd(64, "x");
    const response = await register({ username, password: "p".repeat(256) });
    expect(response.status).toBe(200);
  });

  it("empty password and a too-long username together list both fields", async () => {
    const body = await expectDetail(await register({ username: "u".repeat(65), password: "" }), 422, "list");
    expect(locations(body)).toEqual(
      expect.arrayContaining([
        ["body", "username"],
        ["body", "password"],
      ]),
    );
  });
});

describe("002 POST /api/login", () => {
  it("answers {access_token, token_type: 'Bearer'} and sets an HttpOnly, SameSite=Lax, Path=/api, Secure refresh cookie", async () => {
    const user = await makeUser();
    const response = await login(user.username, user.password);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ access_token: expect.stringMatching(/^ey/), token_type: "Bearer" });
    const cookie = cookieNamed(response, "refresh_token");
    expectCookieFlags(cookie, { sameSite: "Lax", path: "/api", secure: true, maxAge: 7 * 24 * 3600 });
    expect(cookie.value.length).toBeGreaterThanOrEqual(64);
  });

  it("over plain http the refresh cookie carries no Secure flag", async () => {
    const user = await makeUser();
    const response = await login(user.username, user.password, "http");
    expect(response.status).toBe(200);
    expectCookieFlags(cookieNamed(response, "refresh_token"), { sameSite: "Lax", path: "/api", secure: false });
  });

  it("a wrong password or unknown user is 401 {detail: 'Invalid credentials'}, audited, with no cookie", async () => {
    const user = await makeUser();
    for (const [username, password] of [
      [user.username, "wrong password"],
      [uniqueName("ghost"), "whatever"],
    ] as const) {
      const response = await login(username, password);
      expect(setCookies(response)).toEqual([]);
      await expectDetail(response, 401, "Invalid credentials");
      await expectAuthFailedAudit(response, { credential: "password", reason: "mismatch" });
    }
  });

  it("a missing password is 422 with a {loc, msg, type} list", async () => {
    const body = await expectDetail(await call("/api/login", { json: { username: "x" } }), 422, "list");
    expect(locations(body)).toEqual([["body", "password"]]);
  });
});

describe("002 bearer access token (probe route under /api/task)", () => {
  it("the access token from /api/login authenticates its user", async () => {
    const user = await makeUser();
    const { access_token } = (await (await login(user.username, user.password)).json()) as { access_token: string };
    const response = await callProbe(PROBES.story, { bearer: access_token });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ principal_id: user.id, via: "story_token" });
  });

  it("no Authorization header is 401 {detail: 'Unauthorized'}, audited", async () => {
    const response = await callProbe(PROBES.story);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "story_token", reason: "missing" });
  });

  it("a malformed token is 401 {detail: 'Unauthorized'}", async () => {
    const response = await callProbe(PROBES.story, { bearer: "definitely.not.ajwt" });
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "story_token", reason: "invalid" });
  });

  it("an expired token is 401 {detail: 'Token has expired'}", async () => {
    const user = await makeUser();
    const response = await callProbe(PROBES.story, { bearer: await makeSignedToken("story", user.id, -1) });
    await expectDetail(response, 401, "Token has expired");
    await expectAuthFailedAudit(response, { credential: "story_token", reason: "expired" });
  });

  it("a token signed before the user's token version was raised is 401 {detail: 'Unauthorized'}", async () => {
    const user = await makeUser();
    const token = await makeSignedToken("story", user.id);
    expect((await callProbe(PROBES.story, { bearer: token })).status).toBe(200);
    await updatePrincipal(user.id, { tokenVersion: 1 });
    const response = await callProbe(PROBES.story, { bearer: token });
    await expectDetail(response, 401, "Unauthorized");
    await expectAuthFailedAudit(response, { credential: "story_token", reason: "revoked" });
  });

  it("a 001 pipeline token or a 004 extract token is refused (audience): 401 {detail: 'Unauthorized'}", async () => {
    const user = await makeUser();
    for (const audience of ["pipeline", "extract"] as const) {
      const response = await callProbe(PROBES.story, { bearer: await makeSignedToken(audience, user.id) });
      await expectDetail(response, 401, "Unauthorized");
      await expectAuthFailedAudit(response, { credential: "story_token", reason: "invalid" });
    }
  });

  it("a story access token is refused by 001's /api/auth/me: 401 {detail}", async () => {
    const user = await makeUser();
    const { access_token } = (await (await login(user.username, user.password)).json()) as { access_token: string };
    await expectDetail(await call("/api/auth/me", { bearer: access_token }), 401, "Could not validate credentials");
  });
});
