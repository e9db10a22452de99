/**
 * Capacity accounts as the admin API shows and takes them. Field names follow
 * the original admin client where it had one (monthly_limit_usd, used_usd,
 * last_error, failure_type, fail_count, added_at). Credentials are write-only:
 * a view says whether the account has them, never what they are.
 */
import { z } from "@hono/zod-openapi";
import type { AccountLiveness } from "../../core/accounts/liveness";
import type { AccountRow } from "../../core/accounts/status";
import { roundUsd, usedUsd } from "../../core/accounts/store";
import { ACCOUNT_FAILURES, ACCOUNT_PROVIDERS, ACCOUNT_STATUSES } from "../../db/schema";

const label = z.string().trim().min(1).max(100);
const usd = z.number().nonnegative().max(1_000_000);

/** PodCreateInput's fields a bridge pod uses (RunPod REST v1). */
const runpodFields = {
  image: z.string().trim().min(1).max(300).openapi({ description: "An image whose command runs the GPU bridge" }),
  gpu_type_ids: z
    .array(z.string().trim().min(1).max(100))
    .min(1)
    .max(20)
    .openapi({ example: ["NVIDIA L40S"] }),
  gpu_count: z.number().int().min(1).max(8),
  cloud_type: z.enum(["SECURE", "COMMUNITY"]),
  container_disk_gb: z.number().int().min(1).max(4000),
  docker_start_cmd: z.array(z.string().max(1000)).max(50).optional(),
};

const RunpodCreate = z
  .object({
    ...runpodFields,
    gpu_count: runpodFields.gpu_count.default(1),
    cloud_type: runpodFields.cloud_type.default("SECURE"),
    container_disk_gb: runpodFields.container_disk_gb.default(50),
  })
  .strict();

const Credentials = z
  .object({ api_key: z.string().trim().min(8).max(512) })
  .strict()
  .openapi("AccountCredentials", { description: "Write-only: sealed at rest, never shown or logged" });

export const CreateAccount = z
  .discriminatedUnion("provider", [
    z
      .object({
        provider: z.literal("self-hosted"),
        label,
        monthly_limit_usd: usd.default(50),
        cost_per_hour_usd: usd.optional(),
      })
      .strict(),
    z
      .object({
        provider: z.literal("runpod"),
        label,
        monthly_limit_usd: usd.default(50),
        credentials: Credentials,
        runpod: RunpodCreate,
      })
      .strict(),
  ])
  .openapi("CreateAccount");

export const PatchAccount = z
  .object({
    label: label.optional(),
    monthly_limit_usd: usd.optional(),
    cost_per_hour_usd: usd.nullable().optional(),
    credentials: Credentials.optional(),
    runpod: z.object(runpodFields).partial().strict().optional(),
    reset_usage: z.literal(true).optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, "Send at least one field to change")
  .openapi("PatchAccount");

export const AccountView = z
  .object({
    id: z.string(),
    label: z.string(),
    provider: z.enum(ACCOUNT_PROVIDERS),
    status: z.enum(ACCOUNT_STATUSES),
    added_at: z.string().datetime(),
    status_changed_at: z.string().datetime().nullable(),
    monthly_limit_usd: z.number(),
    used_usd: z.number(),
    cost_per_hour_usd: z.number().nullable(),
    has_credentials: z.boolean(),
    runpod: z.object(runpodFields).nullable(),
    pod_id: z.string().nullable(),
    last_error: z.string().nullable(),
    failure_type: z.enum(ACCOUNT_FAILURES).nullable(),
    fail_count: z.number().int(),
    health: z
      .object({ bridges_online: z.number().int(), last_heartbeat_at: z.string().datetime().nullable() })
      .nullable()
      .openapi({ description: "From its bridges' heartbeats; null when the JobBoards could not be read" }),
  })
  .openapi("Account");

export const accountIdParam = z.object({ account_id: z.string().min(1).max(64) });

/** `liveness` is every account's (null when unknown); an account missing from it has no bridge online. */
export function renderAccount(
  row: AccountRow,
  liveness: Map<string, AccountLiveness> | null,
  now = Date.now(),
): z.infer<typeof AccountView> {
  const alive = liveness?.get(row.id);
  return {
    id: row.id,
    label: row.label,
    provider: row.provider,
    status: row.status,
    added_at: row.createdAt.toISOString(),
    status_changed_at: row.statusChangedAt?.toISOString() ?? null,
    monthly_limit_usd: row.monthlyLimitUsd,
    used_usd: roundUsd(usedUsd(row, now)),
    cost_per_hour_usd: row.costPerHourUsd,
    has_credentials: row.credentialsSealed !== null,
    runpod: row.runpod,
    pod_id: row.podId,
    last_error: row.lastError,
    failure_type: row.failureType,
    fail_count: row.failCount,
    health: liveness
      ? { bridges_online: alive?.bridgesOnline ?? 0, last_heartbeat_at: alive?.lastHeartbeatAt?.toISOString() ?? null }
      : null,
  };
}
