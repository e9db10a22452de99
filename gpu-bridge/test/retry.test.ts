/** Backoff, retries and the lease clock: the timing rules the runner relies on. */
import { describe, expect, it } from "vitest";
import { localDeadline } from "../src/client";
import { ApiError, NetworkError } from "../src/errors";
import { backoffDelay, retryDelay, retrying } from "../src/retry";

const fast = { baseMs: 1, maxMs: 4 };

describe("backoff", () => {
  it("grows exponentially to its cap, with jitter in the upper half", () => {
    const backoff = { baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, backoff, () => 0)).toBe(50);
    expect(backoffDelay(0, backoff, () => 1)).toBe(100);
    expect(backoffDelay(3, backoff, () => 1)).toBe(800);
    expect(backoffDelay(40, backoff, () => 1)).toBe(1000);
  });

  it("waits at least what Retry-After asks", () => {
    const limited = new ApiError(429, "RATE_LIMITED", "slow down", true, 5000, undefined);
    expect(retryDelay(limited, 0, { baseMs: 100, maxMs: 1000 })).toBe(5000);
  });
});

describe("retrying", () => {
  it("retries network errors and 5xx, then returns", async () => {
    let calls = 0;
    const value = await retrying(
      async () => {
        calls++;
        if (calls === 1) throw new NetworkError("refused");
        if (calls === 2) throw new ApiError(503, "TEMPORARY_UNAVAILABLE", "busy", true, undefined, undefined);
        return "ok";
      },
      { backoff: fast },
    );
    expect(value).toBe("ok");
    expect(calls).toBe(3);
  });

  it("does not retry a 4xx", async () => {
    let calls = 0;
    const conflict = new ApiError(409, "STATE_CONFLICT", "taken", false, undefined, undefined);
    const failing = retrying(
      async () => {
        calls++;
        throw conflict;
      },
      { backoff: fast },
    );
    await expect(failing).rejects.toBe(conflict);
    expect(calls).toBe(1);
  });

  it("gives up after its last allowed attempt", async () => {
    let calls = 0;
    const down = new NetworkError("refused");
    const failing = retrying(
      async () => {
        calls++;
        throw down;
      },
      { backoff: fast, attempts: 3 },
    );
    await expect(failing).rejects.toBe(down);
    expect(calls).toBe(3);
  });

  it("gives up rather than wait past its deadline", async () => {
    const down = new NetworkError("refused");
    const failing = retrying(
      async () => {
        throw down;
      },
      { backoff: { baseMs: 60_000, maxMs: 60_000 }, deadline: Date.now() + 1000 },
    );
    await expect(failing).rejects.toBe(down);
  });
});

describe("localDeadline", () => {
  const lease = (serverNow: Date, lockedUntil: Date, sentAt: number) =>
    localDeadline(
      lockedUntil.toISOString(),
      sentAt,
      new Response("{}", { headers: { date: serverNow.toUTCString() } }),
    );

  it("measures the lease on the server's clock and counts it from when we asked", () => {
    const sentAt = Date.now();
    const serverNow = new Date(Date.now() + 3_600_000);
    const deadline = lease(serverNow, new Date(serverNow.getTime() + 120_000), sentAt);
    // Date headers carry whole seconds, so a second is taken off to stay on the safe side.
    expect(deadline - sentAt).toBeGreaterThanOrEqual(118_000);
    expect(deadline - sentAt).toBeLessThanOrEqual(120_000);
  });
});
