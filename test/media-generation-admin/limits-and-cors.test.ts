/**
 * Contract 000's rate limits and CORS rules. Session creation and login are
 * budgeted per address before any credential is looked at; an admin's reads,
 * writes and session checks each have their own per-principal budget, and
 * running one dry is 429 admin_rate_limited with Retry-After. CORS answers
 * listed origins with credentials and refuses every other cross-origin request
 * with 403 cors_origin_blocked.
 *
 * Budgets are made small per request with callWithEnv (RATE_LIMITS as
 * production might set it), so a test spends a handful of requests.
 */
import { describe, expect, it } from "vitest";
import { adminCall, callWithEnv } from "../helpers/accounts";
import { makeAdmin, makeGuestSession } from "../helpers/fixtures";
import { call, expect000, expectDetail, setCookies, uniqueIp } from "../helpers/http";
import { makeOperator } from "../helpers/jobs";

const tight = (budgets: Record<string, string>) => ({ RATE_LIMITS: JSON.stringify(budgets) });

/** Sends `request` until it is refused, returning the refusal and how many got through. */
async function untilRefused(send: () => Promise<Response>, max = 10): Promise<{ refused: Response; allowed: number }> {
  for (let allowed = 0; allowed < max; allowed++) {
    const response = await send();
    if (response.status === 429) return { refused: response, allowed };
  }
  throw new Error(`never refused after ${max} requests`);
}

describe("admin budgets per principal", () => {
  it("reads, writes and session checks are budgeted apart; a dry one is 429 admin_rate_limited with Retry-After", async () => {
    const op = await makeOperator();
    const limits = tight({ read: "2/60", write: "1/60", session_check: "3/60" });
    const as = (path: string, method = "GET", json?: unknown) =>
      callWithEnv(limits, path, { method, cookies: op.cookies, ...(json ? { json } : {}) });

    const reads = await untilRefused(() => as("/admin/accounts"));
    expect(reads.allowed).toBe(2);
    const body = await expect000(reads.refused, 429, "admin_rate_limited");
    expect(Number(reads.refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(body.metadata).toMatchObject({ bucket: "read" });

    // The write and session-check budgets are untouched by the reads.
    const writes = await untilRefused(() =>
      as("/admin/accounts", "POST", { provider: "self-hosted", label: "budget" }),
    );
    expect(writes.allowed).toBe(1);
    await expect000(writes.refused, 429, "admin_rate_limited");
    const checks = await untilRefused(() => as("/admin/session"));
    expect(checks.allowed).toBe(3);

    // Another admin has budgets of its own.
    const other = await makeOperator();
    expect((await callWithEnv(limits, "/admin/accounts", { cookies: other.cookies })).status).toBe(200);
  });

  it("local defaults never throttle one operator's normal use", async () => {
    const op = await makeOperator();
    for (let i = 0; i < 30; i++) expect((await adminCall(op, "/admin/accounts")).status).toBe(200);
  });
});

describe("session creation and login per address, before authentication", () => {
  it("POST /admin/session past the address budget is 429 admin_login_rate_limited even with a valid key", async () => {
    const admin = await makeAdmin();
    const ip = uniqueIp();
    const limits = tight({ auth_ip: "2/60" });
    const login = () =>
      callWithEnv(limits, "/admin/session", { method: "POST", headers: { "x-admin-key": admin.key }, ip });
    const { refused, allowed } = await untilRefused(login);
    expect(allowed).toBe(2);
    await expect000(refused, 429, "admin_login_rate_limited");
    expect(setCookies(refused)).toEqual([]);
    // Another address is unaffected.
    expect(
      (await callWithEnv(limits, "/admin/session", { method: "POST", headers: { "x-admin-key": admin.key } })).status,
    ).toBe(200);
  });

  it("POST /auth/session past the address budget is 429 rate_limited and issues no session", async () => {
    const ip = uniqueIp();
    const { refused, allowed } = await untilRefused(() =>
      callWithEnv(tight({ auth_ip: "3/60" }), "/auth/session", { method: "POST", ip }),
    );
    expect(allowed).toBe(3);
    await expect000(refused, 429, "rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(setCookies(refused)).toEqual([]);
  });

  it("a guest's session checks are budgeted per principal", async () => {
    const guest = await makeGuestSession();
    const { refused, allowed } = await untilRefused(() =>
      callWithEnv(tight({ session_check: "2/60" }), "/auth/session", { cookies: { gg_session: guest.secret } }),
    );
    expect(allowed).toBe(2);
    await expect000(refused, 429, "rate_limited");
  });
});

describe("CORS", () => {
  const LISTED = "http://localhost:5173";
  const EVIL = "https://evil.example";

  it("a listed origin's preflight and request are answered with the origin and credentials", async () => {
    const preflight = await call("/admin/accounts", {
      method: "OPTIONS",
      headers: { origin: LISTED, "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(LISTED);
    expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("X-API-Key");

    const op = await makeOperator();
    const response = await adminCall(op, "/admin/accounts", { headers: { origin: LISTED } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(LISTED);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("vary")).toContain("Origin");
  });

  it("an unlisted origin is refused with 403 cors_origin_blocked, preflight or not, before the route runs", async () => {
    const preflight = await call("/admin/accounts", {
      method: "OPTIONS",
      headers: { origin: EVIL, "access-control-request-method": "POST" },
    });
    const body = await expect000(preflight, 403, "cors_origin_blocked");
    expect(body.detail).toContain(EVIL);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();

    // A simple cross-site POST (no preflight) would create a session: it is refused instead.
    const forged = await call("/auth/session", { method: "POST", headers: { origin: EVIL } });
    await expect000(forged, 403, "cors_origin_blocked");
    expect(setCookies(forged)).toEqual([]);

    // Each contract renders the refusal in its own shape.
    await expectDetail(await call("/api/login", { method: "POST", headers: { origin: EVIL } }), 403);
  });

  it("same-origin requests and clients without an Origin pass; only listed origins hear about credentials", async () => {
    const same = await call("/health", { headers: { origin: "https://edge.test" } });
    expect(same.status).toBe(200);
    const plain = await call("/health");
    expect(plain.status).toBe(200);
    for (const response of [same, plain]) {
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });
});
