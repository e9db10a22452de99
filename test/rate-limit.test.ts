/**
 * Token buckets in the RateLimiter Durable Object, and the 429s they produce.
 * The HTTP test spends the local auth_ip budget (wrangler.toml: 120/60) from
 * one test-only address, so no other test shares its bucket.
 */
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("RateLimiter", () => {
  it("allows the capacity, then refuses with the time until one token refills", async () => {
    const stub = env.RATE_LIMITER.getByName(`unit:${crypto.randomUUID()}`);
    const rule = { capacity: 3, windowSeconds: 60 };
    const now = 1_000_000;
    for (let i = 0; i < 3; i++) expect((await stub.take(rule, now)).allowed).toBe(true);
    const refused = await stub.take(rule, now);
    expect(refused).toMatchObject({ allowed: false, remaining: 0 });
    expect(refused.retryAfterSeconds).toBe(20);
    // 20 s later exactly one token has refilled.
    expect((await stub.take(rule, now + 20_000)).allowed).toBe(true);
    expect((await stub.take(rule, now + 20_000)).allowed).toBe(false);
  });
});

describe("RateLimiter cleanup", () => {
  it("its alarm drops the bucket once it would be full again, so idle keys keep no storage", async () => {
    const stub = env.RATE_LIMITER.getByName(`unit:${crypto.randomUUID()}`);
    const rule = { capacity: 2, windowSeconds: 60 };
    // Spent two minutes ago: full again by now.
    const then = Date.now() - 120_000;
    await stub.take(rule, then);
    await stub.take(rule, then);
    expect((await stub.take(rule, then)).allowed).toBe(false);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // The bucket is gone, and no alarm is left.
    await runInDurableObject(stub, async (_limiter, state) => {
      expect(state.storage.kv.get("bucket")).toBeUndefined();
      expect(await state.storage.getAlarm()).toBeNull();
    });
    expect(await stub.take(rule)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("an alarm that fires before the bucket is full keeps it, and comes back when it will be", async () => {
    const stub = env.RATE_LIMITER.getByName(`unit:${crypto.randomUUID()}`);
    const rule = { capacity: 2, windowSeconds: 60 };
    await stub.take(rule);
    await stub.take(rule);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // Still spent: the early alarm did not hand out a fresh bucket.
    expect((await stub.take(rule)).allowed).toBe(false);
    await runInDurableObject(stub, async (_limiter, state) => {
      expect(await state.storage.getAlarm()).toBeGreaterThan(Date.now() + 50_000);
    });
  });
});

describe("HTTP rate limits", () => {
  it("login past the per-address budget is 429 with Retry-After, in the contract's shape", async () => {
    const ip = "192.0.2.77";
    const attempt = () =>
      SELF.fetch(
        new Request("https://edge.test/api/v1/auth/session", {
          method: "POST",
          body: JSON.stringify({ api_key: "wrong" }),
          headers: { "content-type": "application/json", "cf-connecting-ip": ip },
        }),
      );
    let response = await attempt();
    let sent = 1;
    while (response.status !== 429 && sent < 200) {
      expect(response.status).toBe(401);
      response = await attempt();
      sent++;
    }
    // 120 tokens, plus the few that refill (2 per second) while the loop runs.
    expect(sent).toBeGreaterThanOrEqual(121);
    expect(sent).toBeLessThan(140);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await response.json()).toEqual({ detail: expect.stringContaining("Too many requests") });

    // Another address is unaffected.
    const other = await SELF.fetch(
      new Request("https://edge.test/api/v1/auth/session", {
        method: "POST",
        body: JSON.stringify({ api_key: "wrong" }),
        headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.78" },
      }),
    );
    expect(other.status).toBe(401);
  });
});

describe("admin login budget", () => {
  it("answers 000's admin_login_rate_limited with Retry-After before checking any key", async () => {
    const attempt = () =>
      SELF.fetch(
        new Request("https://edge.test/admin/session", {
          method: "POST",
          headers: { "x-admin-key": "mea_wrong", "cf-connecting-ip": "192.0.2.90" },
        }),
      );
    let response = await attempt();
    for (let sent = 1; response.status !== 429 && sent < 200; sent++) response = await attempt();
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await response.json()).toMatchObject({ code: "admin_login_rate_limited", user_action: expect.any(String) });
  });
});
