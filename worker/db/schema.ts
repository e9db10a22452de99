/**
 * D1 tables, declared once for drizzle. `npm run db:generate` turns changes
 * here into SQL under migrations/, which wrangler applies (locally, in tests and
 * in production). Times are integer milliseconds since the epoch.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

const createdAt = () =>
  integer("created_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const ACCOUNT_PROVIDERS = ["local", "self-hosted", "runpod"] as const;
export const ACCOUNT_STATUSES = ["pending", "checking", "deploying", "ready", "failed", "disabled"] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];
/** Why the last deploy failed: auth, quota and config disable the account; transient marks it failed. */
export const ACCOUNT_FAILURES = ["auth", "quota", "config", "transient"] as const;

/** RunPod pod settings an account deploys with (never secret; the API key is sealed apart). */
export interface RunpodSettings {
  image: string;
  gpu_type_ids: string[];
  gpu_count: number;
  cloud_type: "SECURE" | "COMMUNITY";
  container_disk_gb: number;
  docker_start_cmd?: string[];
}

/**
 * A GPU capacity account; agents (GPU bridges) belong to one. Its status moves
 * only along worker/core/accounts/status.ts. Provider credentials are stored
 * sealed (AES-GCM, worker/auth/sealed.ts) and never leave the Worker.
 */
export const capacityAccounts = sqliteTable("capacity_accounts", {
  id: text("id").primaryKey(),
  label: text("label").notNull(),
  provider: text("provider", { enum: ACCOUNT_PROVIDERS }).notNull(),
  status: text("status", { enum: ACCOUNT_STATUSES }).notNull(),
  createdAt: createdAt(),
  statusChangedAt: integer("status_changed_at", { mode: "timestamp_ms" }),
  /** `v1.<iv>.<ciphertext>` of the provider credentials' JSON, bound to the account id. */
  credentialsSealed: text("credentials_sealed"),
  runpod: text("runpod", { mode: "json" }).$type<RunpodSettings>(),
  /** The provider's handle on what the last deploy started (a RunPod pod id). */
  podId: text("pod_id"),
  monthlyLimitUsd: real("monthly_limit_usd").notNull().default(50),
  /** Spend banked from runs that ended; the running one adds cost_per_hour × hours since billing_since. */
  accruedUsd: real("accrued_usd").notNull().default(0),
  costPerHourUsd: real("cost_per_hour_usd"),
  billingSince: integer("billing_since", { mode: "timestamp_ms" }),
  lastError: text("last_error"),
  failureType: text("failure_type", { enum: ACCOUNT_FAILURES }),
  /** Transient deploy failures in a row; a success resets it. */
  failCount: integer("fail_count").notNull().default(0),
});

/** Every actor: users (integer ids, shown by 001 and 002), guests, admins, agents. */
export const principals = sqliteTable("principals", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  kind: text("kind", { enum: ["user", "guest", "admin", "agent"] }).notNull(),
  /** Login handle; unique without regard to case. */
  username: text("username").unique(),
  email: text("email").unique(),
  /** "pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>" */
  passwordHash: text("password_hash"),
  capacityAccountId: text("capacity_account_id").references(() => capacityAccounts.id),
  quotaConcurrent: integer("quota_concurrent"),
  quotaDaily: integer("quota_daily"),
  /** Signed tokens (JWTs, signed cookies) carry this number; raising it revokes them all at once. */
  tokenVersion: integer("token_version").notNull().default(0),
  disabledAt: integer("disabled_at", { mode: "timestamp_ms" }),
  createdAt: createdAt(),
});

export const CREDENTIAL_KINDS = [
  "api_key",
  "admin_key",
  "agent_token",
  "guest_session",
  "admin_session",
  "ui_session",
  "refresh_token",
] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/**
 * Opaque secrets: keys, tokens and cookie sessions. Only the SHA-256 of the
 * secret is stored; the secret itself is shown once, when it is created.
 */
export const credentials = sqliteTable(
  "credentials",
  {
    id: text("id").primaryKey(),
    principalId: integer("principal_id")
      .notNull()
      .references(() => principals.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: CREDENTIAL_KINDS }).notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    /** Shown in listings so a holder can tell keys apart; never enough to use. */
    prefix: text("prefix").notNull(),
    label: text("label"),
    scopes: text("scopes", { mode: "json" }).$type<string[]>(),
    /** Refresh-token rotation: every token of one login shares a family. */
    familyId: text("family_id"),
    replacedBy: text("replaced_by"),
    /** SHA-256 of the CSRF token bound to a UI session. */
    csrfHash: text("csrf_hash"),
    idleTimeoutSeconds: integer("idle_timeout_s"),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    revokedReason: text("revoked_reason"),
  },
  (table) => [index("credentials_principal_idx").on(table.principalId, table.kind)],
);

/** Who did what, from where, and whether it worked. Append-only. */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    requestId: text("request_id"),
    ip: text("ip"),
    principalId: integer("principal_id"),
    /** "admin:3", "user:7", "anonymous", "system" */
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target"),
    success: integer("success", { mode: "boolean" }).notNull(),
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>(),
  },
  (table) => [
    index("audit_events_at_idx").on(table.at),
    index("audit_events_action_idx").on(table.action, table.at),
    index("audit_events_actor_idx").on(table.actor, table.at),
  ],
);

/** Stored outcomes of requests sent with an Idempotency-Key. */
export const idempotencyRecords = sqliteTable(
  "idempotency_records",
  {
    principalId: integer("principal_id").notNull(),
    key: text("key").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    bodyHash: text("body_hash").notNull(),
    state: text("state", { enum: ["running", "done"] }).notNull(),
    status: integer("status"),
    contentType: text("content_type"),
    body: text("body"),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.principalId, table.key] }),
    index("idempotency_expiry_idx").on(table.expiresAt),
  ],
);

export const TASK_STATUSES = ["pending", "running", "done", "failed"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const JOB_STATUSES = ["pending", "claimed", "completed", "failed"] as const;

/**
 * What someone asked for: written before anything is dispatched. Its status is
 * projected here by its TaskRoom at transitions, never on every progress tick.
 */
export const tasks = sqliteTable(
  "tasks",
  {
    id: text("id").primaryKey(),
    ownerPrincipalId: integer("owner_principal_id")
      .notNull()
      .references(() => principals.id),
    /** Which surface created it ("000", "003", "admin", …); surfaces render their own ids from it. */
    surface: text("surface").notNull(),
    status: text("status", { enum: TASK_STATUSES }).notNull().default("pending"),
    progress: integer("progress_permille").notNull().default(0),
    stage: text("stage"),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    /** A job still unstarted past this instant fails as not_started. */
    startDeadlineAt: integer("start_deadline_at", { mode: "timestamp_ms" }),
    /** What the caller asked for, as its surface records it (000: model, label, type, mode, prompt, params). */
    request: text("request", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  },
  (table) => [index("tasks_owner_idx").on(table.ownerPrincipalId, table.createdAt)],
);

/**
 * One unit of bridge work. The request writes it; from then on its JobBoard
 * owns its lifecycle and projects each transition here (the durable record the
 * reconciler and the queue consumer read).
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    taskId: text("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    jobType: text("job_type").notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("pending"),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** Input name → artifact id. */
    inputs: text("inputs", { mode: "json" }).$type<Record<string, string>>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    /** When a JobBoard first held it; null means the hand-off has not happened yet. */
    boardedAt: integer("boarded_at", { mode: "timestamp_ms" }),
    agentId: text("agent_id"),
    lockedUntil: integer("locked_until", { mode: "timestamp_ms" }),
    result: text("result", { mode: "json" }).$type<Record<string, unknown>>(),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  },
  (table) => [index("jobs_task_idx").on(table.taskId), index("jobs_status_idx").on(table.status, table.createdAt)],
);

/** A registered bridge process (contract 003 POST /agents/register): what it can run. */
export const agentRegistrations = sqliteTable(
  "agent_registrations",
  {
    id: text("id").primaryKey(),
    principalId: integer("principal_id")
      .notNull()
      .references(() => principals.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    version: text("version").notNull(),
    platform: text("platform").notNull(),
    capabilities: text("capabilities", { mode: "json" }).$type<string[]>().notNull(),
    maxParallelJobs: integer("max_parallel_jobs").notNull(),
    createdAt: createdAt(),
  },
  (table) => [index("agent_registrations_principal_idx").on(table.principalId, table.createdAt)],
);

/**
 * Stored media bytes in R2 and who may read them. Rows outlive their bytes:
 * after expiry the sweep deletes the object and sets deleted_at, and reads
 * answer 410 Gone instead of 404.
 */
export const artifacts = sqliteTable(
  "artifacts",
  {
    id: text("id").primaryKey(),
    ownerPrincipalId: integer("owner_principal_id")
      .notNull()
      .references(() => principals.id),
    r2Key: text("r2_key").notNull().unique(),
    contentType: text("content_type").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    sha256: text("sha256").notNull(),
    /** "input" for what users upload; a job type's output kind ("thumb", "video", …) for job outputs. */
    kind: text("kind").notNull().default("input"),
    /** The job that produced it (outputs only): submit accepts only its own job's outputs. */
    jobId: text("job_id"),
    createdAt: createdAt(),
    /** Always set by the writer (per surface, configurable); reads past it answer 410. */
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    deletedAt: integer("deleted_at", { mode: "timestamp_ms" }),
  },
  (table) => [
    index("artifacts_owner_idx").on(table.ownerPrincipalId, table.createdAt),
    index("artifacts_expiry_idx").on(table.deletedAt, table.expiresAt),
    index("artifacts_job_idx").on(table.jobId),
  ],
);

export const UPLOAD_STATUSES = ["open", "completed", "aborted"] as const;

/**
 * A chunked upload in progress (R2 multipart): its declared size fixes the
 * part layout, so every part's length is known before its bytes arrive.
 */
export const uploads = sqliteTable(
  "uploads",
  {
    id: text("id").primaryKey(),
    ownerPrincipalId: integer("owner_principal_id")
      .notNull()
      .references(() => principals.id),
    /** Set for a job's output upload: only the job's lease holder may add to it. */
    jobId: text("job_id"),
    kind: text("kind").notNull(),
    /** The surface whose expiry applies to the artifact it becomes. */
    surface: text("surface").notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    partSize: integer("part_size").notNull(),
    partCount: integer("part_count").notNull(),
    /** The whole object's SHA-256 the client declared, verified at completion. */
    sha256: text("sha256"),
    r2Key: text("r2_key").notNull(),
    r2UploadId: text("r2_upload_id").notNull(),
    status: text("status", { enum: UPLOAD_STATUSES }).notNull().default("open"),
    artifactId: text("artifact_id"),
    createdAt: createdAt(),
    /** An upload still open past this is aborted by the sweep. */
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [
    index("uploads_owner_idx").on(table.ownerPrincipalId, table.createdAt),
    index("uploads_expiry_idx").on(table.status, table.expiresAt),
  ],
);

/** Parts received, re-sent parts replace their row: the last good copy wins. */
export const uploadParts = sqliteTable(
  "upload_parts",
  {
    uploadId: text("upload_id")
      .notNull()
      .references(() => uploads.id, { onDelete: "cascade" }),
    partNumber: integer("part_number").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    /** Set when the client sent X-Content-SHA256 and the part matched it. */
    sha256: text("sha256"),
    etag: text("etag").notNull(),
    createdAt: createdAt(),
  },
  (table) => [primaryKey({ columns: [table.uploadId, table.partNumber] })],
);
