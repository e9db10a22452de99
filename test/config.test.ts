/** Configuration is parsed strictly: a bad value fails loudly instead of falling back. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { configFrom } from "../worker/config";

const withLimits = (RATE_LIMITS: string) => ({ ...env, RATE_LIMITS }) as Env;

describe("RATE_LIMITS", () => {
  it("parses each bucket as requests per seconds, defaulting the buckets left out", () => {
    const config = configFrom(withLimits('{"auth_ip":"20/60"}'));
    expect(config.RATE_LIMITS.auth_ip).toEqual({ capacity: 20, windowSeconds: 60 });
    expect(config.RATE_LIMITS.read).toEqual({ capacity: 1200, windowSeconds: 60 });
  });

  it("refuses a misspelt bucket rather than silently using the generous local default", () => {
    expect(() => configFrom(withLimits('{"auth-ip":"20/60"}'))).toThrow();
  });

  it("refuses a zero budget, which would otherwise fail every limited request", () => {
    expect(() => configFrom(withLimits('{"auth_ip":"0/60"}'))).toThrow();
    expect(() => configFrom(withLimits('{"auth_ip":"20/0"}'))).toThrow();
  });
});
