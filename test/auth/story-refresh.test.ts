/**
 * Contract 002 POST /api/refresh: the HttpOnly refresh_token cookie is rotated
 * on every use; presenting a retired one is reuse and ends the whole login
 * (its family), and of two concurrent refreshes with one token at most one wins.
 */
import { describe, expect, it } from "vitest";
import {
  ago,
  credentialFor,
  expectAuthFailedAudit,
  makeApiKey,
  makeGuestSession,
  makeRefreshToken,
  makeUser,
  updateCredential,
  updatePrincipal,
} from "../helpers/fixtures";
import { call, cookieNamed, expectCleared, expectCookieFlags, expectDetail } from "../helpers/http";
import { callProbe, PROBES } from "../helpers/probe";

const refresh = (cookie?: string, scheme: "https" | "http" = "https") =>
  call("/api/refresh", { method: "POST", cookies: cookie === undefined ? {} : { refresh_token: cookie }, scheme });

async function loginCookie(): Promise<{ userId: number; cookie: string }> {
  const user = await makeUser();
  const response = await call("/api/login", { json: { username: user.username, password: user.password } });
  expect(response.status).toBe(200);
  return { userId: user.id, cookie: cookieNamed(response, "refresh_token").value };
}

describe("002 POST /api/refresh", () => {
  it("a valid cookie answers a new access token and a rotated cookie with the same flags", async () => {
    const { userId, cookie } = await loginCookie();
    const response = await refresh(cookie);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("Bearer");
    const next = cookieNamed(response, "refresh_token");
    expect(next.value).not.toBe(cookie);
    expectCookieFlags(next, { sameSite: "Lax", path: "/api", secure: true, maxAge: 7 * 24 * 3600 });

    const probe = await callProbe(PROBES.story, { bearer: body.access_token });
    expect(await probe.json()).toMatchObject({ principal_id: userId, via: "story_token" });
    const [oldRow, newRow] = [await credentialFor(cookie), await credentialFor(next.value)];
    expect(oldRow).toMatchObject({ revokedReason: "rotated", replacedBy: newRow.id, familyId: newRow.familyId });
  });

  it("the rotated cookie is not Secure over plain http", async () => {
    const { cookie } = await loginCookie();
    const response = await refresh(cookie, "http");
    expect(response.status).toBe(200);
    expectCookieFlags(cookieNamed(response, "refresh_token"), { sameSite: "Lax", path: "/api", secure: false });
  });

  it("a chain of rotations keeps working while each cookie is used once", async () => {
    let { cookie } = await loginCookie();
    for (let i = 0; i < 3; i++) {
      const response = await refresh(cookie);
      expect(response.status).toBe(200);
      cookie = cookieNamed(response, "refresh_token").value;
    }
  });

  it("reusing a rotated cookie is 401, clears the cookie, and revokes the family so the newest is refused too", async () => {
    const { cookie: first } = await loginCookie();
    const second = cookieNamed(await refresh(first), "refresh_token").value;
    const third = cookieNamed(await refresh(second), "refresh_token").value;

    const reuse = await refresh(first);
    expectCleared(reuse, "refresh_token", "/api");
    await expectDetail(reuse, 401, "Refresh token was already used; sign in again");
    await expectAuthFailedAudit(reuse, { credential: "refresh_token", reason: "reuse" });

    expect(await credentialFor(third)).toMatchObject({ revokedReason: "reuse_detected" });
    const newest = await refresh(third);
    await expectDetail(newest, 401);
    expect(newest.status).toBe(401);
  });

  it("of two concurrent refreshes with one cookie at most one succeeds", async () => {
    const { cookie } = await loginCookie();
    const responses = await Promise.all([refresh(cookie), refresh(cookie)]);
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(1);
    expect(statuses.every((status) => status === 200 || status === 401)).toBe(true);
    for (const response of responses.filter((r) => r.status === 401)) {
      await expectDetail(response, 401, "Refresh token was already used; sign in again");
    }
    const winner = responses.find((response) => response.status === 200);
    if (winner) {
      // The loser saw a reuse, so the login's family is revoked, the winner's new cookie included.
      const next = cookieNamed(winner, "refresh_token").value;
      expect(await credentialFor(next)).toMatchObject({ revokedAt: expect.any(Date) });
      expect((await refresh(next)).status).toBe(401);
    }
  });

  it("no cookie is 401 {detail: 'Refresh token missing'}, audited", async () => {
    const response = await refresh();
    await expectDetail(response, 401, "Refresh token missing");
    await expectAuthFailedAudit(response, { credential: "refresh_token", reason: "missing" });
  });

  it("a malformed cookie is 401 {detail: 'Invalid refresh token'} and is cleared", async () => {
    const response = await refresh("garbage");
    expectCleared(response, "refresh_token", "/api");
    await expectDetail(response, 401, "Invalid refresh token");
    await expectAuthFailedAudit(response, { credential: "refresh_token", reason: "unknown" });
  });

  it("an expired refresh token is 401 {detail: 'Refresh token expired'}", async () => {
    const user = await makeUser();
    const token = await makeRefreshToken(user.id);
    await updateCredential(token.id, { expiresAt: ago(1) });
    const response = await refresh(token.secret);
    await expectDetail(response, 401, "Refresh token expired");
    await expectAuthFailedAudit(response, { credential: "refresh_token", reason: "expired" });
  });

  it("a revoked refresh token (e.g. signed out) is 401 {detail: 'Refresh token revoked'}", async () => {
    const user = await makeUser();
    const token = await makeRefreshToken(user.id);
    await updateCredential(token.id, { revokedAt: ago(1), revokedReason: "signed_out" });
    const response = await refresh(token.secret);
    await expectDetail(response, 401, "Refresh token revoked");
    await expectAuthFailedAudit(response, { credential: "refresh_token", reason: "revoked" });
  });

  it("the refresh token of a disabled user is 401", async () => {
    const user = await makeUser();
    const token = await makeRefreshToken(user.id);
    await updatePrincipal(user.id, { disabledAt: ago(1) });
    await expectDetail(await refresh(token.secret), 401, "Refresh token revoked");
  });

  it("other credentials in the refresh_token cookie are not refresh tokens: 401 'Invalid refresh token'", async () => {
    const user = await makeUser();
    const key = await makeApiKey(user.id);
    const guest = await makeGuestSession();
    for (const value of [key.secret, guest.secret]) {
      await expectDetail(await refresh(value), 401, "Invalid refresh token");
    }
  });
});
