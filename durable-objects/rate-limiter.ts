/**
 * RateLimiter: one object per (bucket, key) — e.g. "auth_ip:203.0.113.7" or
 * "write:principal:42" — holding a token bucket in SQLite-backed storage. A Durable
 * Object runs one call at a time, so take() is atomic without locks, and the
 * bucket survives eviction because it lives in storage, not memory.
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";

export const rateRuleSchema = z.object({
  capacity: z.number().int().positive(),
  windowSeconds: z.number().positive(),
});
export type RateRule = z.infer<typeof rateRuleSchema>;

export interface RateDecision {
  allowed: boolean;
  remaining: number;
  /** Seconds until one request would be allowed again; 0 when allowed. */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** The rule it was last taken under: the alarm needs it to tell when the bucket is full. */
  capacity: number;
  windowMs: number;
}

export class RateLimiter extends DurableObject<Env> {
  /** The alarm this instance set (unknown after eviction, so it is set again). */
  private alarmAt: number | undefined;

  take(input: RateRule, now = Date.now()): RateDecision {
    const rule = rateRuleSchema.parse(input);
    const windowMs = rule.windowSeconds * 1000;
    const refillPerMs = rule.capacity / windowMs;
    const stored = this.ctx.storage.kv.get<Bucket>("bucket");
    const elapsed = stored ? Math.max(0, now - stored.updatedAt) : 0;
    const tokens = Math.min(rule.capacity, stored ? stored.tokens + elapsed * refillPerMs : rule.capacity);
    const allowed = tokens >= 1;
    const left = allowed ? tokens - 1 : tokens;
    this.ctx.storage.kv.put<Bucket>("bucket", { tokens: left, updatedAt: now, capacity: rule.capacity, windowMs });
    // Setting an alarm is a storage write: one per window, not one per request. The alarm
    // checks the bucket when it fires and comes back later if it is not full yet.
    if (this.alarmAt === undefined) {
      this.alarmAt = now + windowMs;
      void this.ctx.storage.setAlarm(this.alarmAt);
    }
    return {
      allowed,
      remaining: Math.floor(left),
      retryAfterSeconds: allowed ? 0 : Math.ceil((1 - left) / refillPerMs / 1000),
    };
  }

  /** Once the bucket would be full again it carries no information: drop it then. */
  override async alarm(): Promise<void> {
    const bucket = this.ctx.storage.kv.get<Bucket>("bucket");
    const fullAt = bucket
      ? bucket.updatedAt + ((bucket.capacity - bucket.tokens) / bucket.capacity) * bucket.windowMs
      : 0;
    if (bucket && fullAt > Date.now()) {
      this.alarmAt = fullAt;
      await this.ctx.storage.setAlarm(fullAt);
      return;
    }
    this.alarmAt = undefined;
    await this.ctx.storage.deleteAll();
  }
}
