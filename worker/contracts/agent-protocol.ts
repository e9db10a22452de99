/**
 * Contract 003 §4–5, the one agent protocol every job type uses: the request
 * and response bodies of /api/v1/agents/register and /api/v1/jobs*. The Worker
 * validates with these schemas and the GPU bridge parses the Worker's answers
 * with them, so the two cannot drift. Fields beyond the contract's (task_id,
 * params, inputs, attempt, progress) are additive. Only zod is imported.
 */
import { z } from "zod";
import { capabilitySchema, JOB_TYPE_NAMES } from "./job-types";

/** Optional on every agent call: which registration (bridge process) is calling. */
export const AGENT_ID_HEADER = "x-agent-id";
/** Input downloads carry the lease in a header, since GET has no body. */
export const LOCK_TOKEN_HEADER = "x-lock-token";
/** Longest long-poll a bridge may ask for on GET /api/v1/jobs. */
export const MAX_WAIT_SECONDS = 25;

const isoDate = z.string().datetime();

export const registerAgentSchema = z.object({
  agent_name: z.string().trim().min(1).max(128),
  agent_version: z.string().trim().min(1).max(64),
  platform: z.string().trim().min(1).max(128),
  capabilities: z.array(capabilitySchema).max(64),
  max_parallel_jobs: z.number().int().min(1).max(256),
});
export type RegisterAgent = z.infer<typeof registerAgentSchema>;

export const serverPolicySchema = z.object({
  min_poll_interval_seconds: z.number().int().nonnegative(),
  max_parallel_jobs_allowed: z.number().int().positive(),
  allowed_job_types: z.array(z.string()),
  /** Lease length granted by claim and by every heartbeat. */
  lease_seconds: z.number().int().positive(),
  /** How often a holder should heartbeat (well inside the lease). */
  heartbeat_interval_seconds: z.number().positive(),
  max_wait_seconds: z.number().int().positive(),
});
export type ServerPolicy = z.infer<typeof serverPolicySchema>;

export const registeredAgentSchema = z.object({
  agent_id: z.string().uuid(),
  server_policy: serverPolicySchema,
});

export const listJobsQuerySchema = z.object({
  /** Long-poll: hold the request up to this many seconds until a job is claimable. */
  wait: z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS).default(0),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const jobInputSchema = z.object({
  name: z.string(),
  /** Same-origin path; GET it with the lease in X-Lock-Token while holding the job. */
  url: z.string(),
  content_type: z.string(),
  size_bytes: z.number().int().nonnegative(),
});
export type JobInput = z.infer<typeof jobInputSchema>;

export const jobStatusSchema = z.enum(["pending", "claimed", "completed", "failed"]);
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** Contract 003 §9 Job, plus what a job that is not about a catalogue asset needs. */
export const jobSchema = z.object({
  job_id: z.string().uuid(),
  job_type: z.enum(JOB_TYPE_NAMES),
  asset_uuid: z.string().uuid().nullable(),
  lock_token: z.string().nullable(),
  locked_until: isoDate.nullable(),
  paths: z.record(z.string(), z.unknown()),
  derived_target_dir: z.string().nullable(),
  task_id: z.string().uuid(),
  status: jobStatusSchema,
  required_capabilities: z.array(z.string()),
  params: z.record(z.string(), z.unknown()),
  inputs: z.array(jobInputSchema),
  /** 1 for the first claim; a job fails for good after max_attempts. */
  attempt: z.number().int().nonnegative(),
  max_attempts: z.number().int().positive(),
  created_at: isoDate,
});
export type Job = z.infer<typeof jobSchema>;

/** Missing tokens are answered 423 LOCK_REQUIRED, not 422, so lock_token is optional here. */
const lockToken = z.string().max(256).optional();

export const heartbeatSchema = z.object({
  lock_token: lockToken,
  /** Fraction done, 0..1. */
  progress: z.number().min(0).max(1).optional(),
  stage: z.string().trim().min(1).max(64).optional(),
  message: z.string().max(500).optional(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export const heartbeatAckSchema = z.object({ job_id: z.string().uuid(), locked_until: isoDate });

/** contract 003 §9 ProcessingResult; binaries are never in it (they go through the upload API). */
export const processingResultSchema = z.object({
  facts: z.record(z.string(), z.unknown()).optional(),
  derived_manifest: z
    .array(
      z.object({
        kind: z.string().max(64),
        ref: z.string().max(256),
        size_bytes: z.number().int().nonnegative().optional(),
        sha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/)
          .optional(),
      }),
    )
    .max(100)
    .default([]),
  transcript: z.record(z.string(), z.unknown()).optional(),
  suggestions: z.record(z.string(), z.unknown()).optional(),
  warnings: z.array(z.string().max(1000)).max(100).default([]),
  metrics: z.record(z.string(), z.unknown()).default({}),
});
export type ProcessingResult = z.infer<typeof processingResultSchema>;

export const submitSchema = z.object({ lock_token: lockToken, result: processingResultSchema });
export type Submit = z.infer<typeof submitSchema>;

export const failSchema = z.object({
  lock_token: lockToken,
  error_code: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/),
  message: z.string().max(2000),
  retryable: z.boolean(),
});
export type Fail = z.infer<typeof failSchema>;

/** What submit and fail answer: where the job stands now. */
export const jobOutcomeSchema = z.object({
  job_id: z.string().uuid(),
  task_id: z.string().uuid(),
  status: jobStatusSchema,
  attempt: z.number().int().nonnegative(),
  /** Set when a failed attempt was put back: the job is claimable again from then. */
  retry_at: isoDate.nullable(),
  error_code: z.string().nullable(),
});
export type JobOutcome = z.infer<typeof jobOutcomeSchema>;
