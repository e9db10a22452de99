/**
 * Runtime configuration, parsed once per isolate from the Worker's env with zod.
 * Every tunable (lifetimes, quotas, rate limits, CORS) is read here and nowhere
 * else, so a bad value fails loudly at the first request instead of silently
 * falling back somewhere deep in a handler.
 */
import { z } from "zod";
import { MODEL_IDS } from "./contracts/models";

const MiB = 1024 * 1024;
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
    /** Every call of a GPU bridge (polls, claims, heartbeats, submits); one bridge runs many jobs. */
    agent: rate.prefault("6000/60"),
  })
  // A misspelt bucket must fail loudly, not fall back to the generous local default.
  .strict();

export type RateBucket = keyof z.output<typeof rateLimits>;

/** A provider name as the GPU bridge registers it ("local", "replicate", "comfyui", …). */
const providerName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, "expected a provider name");

/**
 * Which provider runs a model, and the provider's own model id ("local" means
 * the one the provider is configured with): `"replicate"` or
 * `{"provider": "replicate", "model": "owner/name"}`.
 */
const providerRoute = z
  .union([providerName, z.object({ provider: providerName, model: z.string().min(1).max(128).default("local") })])
  .transform((route) => (typeof route === "string" ? { provider: route, model: "local" } : route));

/** A var holding JSON (an object; absent means `{}`), parsed before its own schema checks it. */
function jsonVar(name: string) {
  return z
    .string()
    .default("{}")
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `${name} is not JSON` });
        return z.NEVER;
      }
    });
}

const configSchema = z.object({
  ENVIRONMENT: z.string().default("local"),
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters"),
  EXCHANGE_SECRET: z.string().min(32, "EXCHANGE_SECRET must be at least 32 characters"),
  RATE_LIMITS: jsonVar("RATE_LIMITS").pipe(rateLimits),
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
  /** Job leases: granted by claim and by every heartbeat. */
  JOB_LEASE_S: positiveInt(120),
  /** How often bridges are told to heartbeat; must sit well inside the lease. */
  JOB_HEARTBEAT_S: positiveInt(30),
  /** Claims a job may use before it fails for good (dead letter). */
  JOB_MAX_ATTEMPTS: positiveInt(3),
  /** A failed or expired attempt waits base × 2^(attempt-1), capped, before it is claimable again. */
  JOB_BACKOFF_BASE_MS: positiveInt(2000),
  JOB_BACKOFF_MAX_MS: positiveInt(60_000),
  /** The reconciler's sweep period, and how old an unboarded job must be before it repairs it. */
  RECONCILE_INTERVAL_S: positiveInt(30),
  RECONCILE_GRACE_S: positiveInt(30),
  /** Bridges are told not to poll more often than this without waiting. */
  AGENT_MIN_POLL_S: positiveInt(5),
  AGENT_MAX_PARALLEL_JOBS: positiveInt(8),
  /** An agent unheard of for this long is no longer counted as alive. */
  AGENT_ALIVE_S: positiveInt(90),
  /** "on" only under `npm run bench`: serves the floor route the claim benchmark compares against. */
  BENCH_ROUTES: z.enum(["on", "off"]).default("off"),
  /** Largest input an operator may upload through POST /admin/artifacts (the upload API takes more). */
  ADMIN_ARTIFACT_MAX_BYTES: positiveInt(100 * 1024 * 1024),
  /** Chunked uploads: every part but the last is exactly this size (R2 multipart needs ≥ 5 MiB). */
  UPLOAD_PART_BYTES: positiveInt(8 * MiB).pipe(
    z
      .number()
      .min(5 * MiB)
      .max(100 * MiB),
  ),
  /** Largest object one upload may declare; more is a 413 at init, before any byte is sent. */
  UPLOAD_MAX_BYTES: positiveInt(5 * 1024 * MiB),
  /** An upload not completed within this is aborted and its parts deleted. */
  UPLOAD_TTL_S: positiveInt(24 * 3600),
  /** A finished task's TaskRoom (its events, in its Durable Object) is deleted this long after; a later read rebuilds its story from D1. */
  TASK_ROOM_KEEP_S: positiveInt(7 * 24 * 3600),
  /** How long stored media lives, per surface ("000", "003", "admin", …) with a default; reads after answer 410. */
  MEDIA_TTL_S: jsonVar("MEDIA_TTL_S")
    .pipe(z.record(z.string(), z.number().int().positive()))
    .transform((ttl): Record<string, number> & { default: number } => ({ default: 7 * 24 * 3600, ...ttl })),
  /** Contract 000: model id → provider route; a model not listed runs on the bridge's local provider. */
  GENERATION_PROVIDERS: jsonVar("GENERATION_PROVIDERS").pipe(z.partialRecord(z.enum(MODEL_IDS), providerRoute)),
  /** A generation no live capable bridge has started within this fails as worker_start_timeout. */
  GENERATION_START_TIMEOUT_S: positiveInt(120),
  /** A generation queued behind busy bridges waits at most this long to start (image, video). */
  GENERATION_IMAGE_QUEUE_S: positiveInt(10 * 60),
  GENERATION_VIDEO_QUEUE_S: positiveInt(30 * 60),
  /** A started generation whose progress has not moved for this long fails as processing_stall_timeout. */
  GENERATION_STALL_S: positiveInt(300),
  /** Audit rows older than this are deleted by the maintenance sweep. */
  AUDIT_RETENTION_DAYS: positiveInt(90),
  /**
   * Secret: 32 random bytes (base64 or base64url) sealing capacity-account credentials with AES-GCM.
   * Optional here so the rest of the Worker runs without it; the routes that need it answer 503.
   */
  ACCOUNTS_ENCRYPTION_KEY: z.string().optional(),
  /** RunPod's REST API base; outbound calls are built from this and never from a request. */
  RUNPOD_API_URL: z.url({ protocol: /^https?$/ }).default("https://rest.runpod.io/v1"),
  /** Tries per RunPod call when it answers 429; a Retry-After longer than the wait cap ends the tries early. */
  RUNPOD_MAX_ATTEMPTS: positiveInt(3),
  RUNPOD_RETRY_MAX_WAIT_S: positiveInt(10),
  /** The origin bridges connect to (MEDIA_EDGE_URL); defaults to the origin the admin's deploy came in on. */
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
});

/** Seconds stored media of `surface` lives. */
export function mediaTtlSeconds(config: Config, surface: string): number {
  return config.MEDIA_TTL_S[surface] ?? config.MEDIA_TTL_S.default;
}

export type Config = z.output<typeof configSchema>;

let cached: { source: unknown; config: Config } | undefined;

/** Parses the env once per isolate; the env object is stable within an isolate. */
export function configFrom(env: Env): Config {
  if (cached?.source === env) return cached.config;
  const config = configSchema.parse(env);
  cached = { source: env, config };
  return config;
}
