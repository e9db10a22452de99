/**
 * Runtime configuration, parsed once per isolate from the Worker's env with zod.
 * Every tunable (lifetimes, quotas, rate limits, CORS) is read here and nowhere
 * else, so a bad value fails loudly at the first request instead of silently
 * falling back somewhere deep in a handler.
 */
import { z } from "zod";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** "120/60" → 120 requests per 60 seconds, refilled continuously. */
const rate = z
  .string()
  .regex(/^[1-9]\d*\/[1-9]\d*$/, 'expected "<requests>/<seconds>", both positive')
  .transform((value) => {
    const [requests, perSeconds] = value.split("/").map(Number);
    return { capacity: Number(requests), windowSeconds: Number(perSeconds) };
  });

const rateLimits = z
  .object({
    auth_ip: rate.prefault("120/60"),
    /** Refused credentials per address: bounds the audit rows an anonymous caller can cause. */
    auth_failure: rate.prefault("600/60"),
    read: rate.prefault("1200/60"),
    write: rate.prefault("600/60"),
    session_check: rate.prefault("2400/60"),
  })
  // A misspelt bucket must fail loudly, not fall back to the generous local default.
  .strict();

export type RateBucket = keyof z.output<typeof rateLimits>;

const configSchema = z.object({
  ENVIRONMENT: z.string().default("local"),
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters"),
  EXCHANGE_SECRET: z.string().min(32, "EXCHANGE_SECRET must be at least 32 characters"),
  RATE_LIMITS: z
    .string()
    .default("{}")
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "RATE_LIMITS is not JSON" });
        return z.NEVER;
      }
    })
    .pipe(rateLimits),
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((raw) =>
      raw
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
  GUEST_SESSION_TTL_S: positiveInt(24 * 3600),
  GUEST_QUOTA_CONCURRENT: positiveInt(2),
  GUEST_QUOTA_DAILY: positiveInt(20),
  ADMIN_SESSION_IDLE_S: positiveInt(12 * 3600),
  ADMIN_SESSION_MAX_S: positiveInt(7 * 24 * 3600),
  PIPELINE_TOKEN_TTL_S: positiveInt(30 * 60),
  STORY_ACCESS_TTL_S: positiveInt(3600),
  STORY_REFRESH_TTL_S: positiveInt(7 * 24 * 3600),
  EXTRACT_SESSION_TTL_S: positiveInt(900).pipe(z.number().max(86400)),
  UI_SESSION_TTL_S: positiveInt(12 * 3600),
  IDEMPOTENCY_TTL_S: positiveInt(24 * 3600),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
});

export type Config = z.output<typeof configSchema>;

let cached: { source: unknown; config: Config } | undefined;

/** Parses the env once per isolate; the env object is stable within an isolate. */
export function configFrom(env: Env): Config {
  if (cached?.source === env) return cached.config;
  const config = configSchema.parse(env);
  cached = { source: env, config };
  return config;
}
