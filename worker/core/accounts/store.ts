/**
 * Capacity accounts as records: create, change, list, delete, their sealed
 * credentials and their spend. Status moves live in status.ts, deploys in
 * lifecycle.ts.
 *
 * Spend is estimated from what the provider charges per hour: runs that ended
 * are banked in accrued_usd, and the running one adds cost × hours since
 * billing_since, computed when read, so nothing is written while it runs.
 */
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import { open, seal } from "../../auth/sealed";
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { type AccountStatus, capacityAccounts, type RunpodSettings } from "../../db/schema";
import { ApiError } from "../../errors/api-error";
import type { AccountRow } from "./status";

export interface ProviderCredentials {
  api_key: string;
}
const credentialsSchema = z.object({ api_key: z.string().min(1) });

export interface NewAccount {
  label: string;
  monthlyLimitUsd: number;
  provider: "self-hosted" | "runpod";
  /** Self-hosted only: what its machines cost, for the spend estimate. */
  costPerHourUsd?: number;
  /** RunPod only, both required there. */
  runpod?: RunpodSettings;
  credentials?: ProviderCredentials;
}

export interface AccountChanges {
  label?: string;
  monthlyLimitUsd?: number;
  costPerHourUsd?: number | null;
  runpod?: Partial<RunpodSettings>;
  credentials?: ProviderCredentials;
  resetUsage?: boolean;
}

/** The additional data a sealed value is bound to: it opens on this row only. */
const sealedFor = (accountId: string) => `capacity_accounts:${accountId}`;

export async function createAccount(config: Config, db: Database, input: NewAccount): Promise<AccountRow> {
  const id = crypto.randomUUID();
  const credentialsSealed = input.credentials
    ? await seal(config, JSON.stringify(input.credentials), sealedFor(id))
    : null;
  const [row] = await db
    .insert(capacityAccounts)
    .values({
      id,
      label: input.label,
      provider: input.provider,
      status: "pending",
      statusChangedAt: new Date(),
      monthlyLimitUsd: input.monthlyLimitUsd,
      costPerHourUsd: input.costPerHourUsd ?? null,
      runpod: input.runpod ?? null,
      credentialsSealed,
    })
    .returning();
  if (!row) throw new Error("account insert returned no row");
  return row;
}

export function listAccounts(db: Database, status?: AccountStatus): Promise<AccountRow[]> {
  return db
    .select()
    .from(capacityAccounts)
    .where(status ? eq(capacityAccounts.status, status) : undefined)
    .orderBy(asc(capacityAccounts.createdAt), asc(capacityAccounts.id));
}

export async function changeAccount(
  config: Config,
  db: Database,
  account: AccountRow,
  changes: AccountChanges,
  now = Date.now(),
): Promise<AccountRow> {
  const isRunpod = account.provider === "runpod";
  if ((changes.credentials || changes.runpod) && !isRunpod) {
    throw fieldError(changes.credentials ? "credentials" : "runpod", "Only a runpod account has these");
  }
  if (changes.costPerHourUsd !== undefined && isRunpod) {
    throw fieldError("cost_per_hour_usd", "A runpod account's cost comes from RunPod at each deploy");
  }
  // A new rate or a reset starts a new billing segment; the old one is banked (or dropped) first.
  const rebill = changes.resetUsage || changes.costPerHourUsd !== undefined;
  return patchAccount(db, account.id, {
    label: changes.label,
    monthlyLimitUsd: changes.monthlyLimitUsd,
    costPerHourUsd: changes.costPerHourUsd,
    runpod: changes.runpod && account.runpod ? { ...account.runpod, ...changes.runpod } : undefined,
    credentialsSealed: changes.credentials
      ? await seal(config, JSON.stringify(changes.credentials), sealedFor(account.id))
      : undefined,
    ...(rebill
      ? {
          accruedUsd: changes.resetUsage ? 0 : usedUsd(account, now),
          billingSince: account.billingSince ? new Date(now) : null,
        }
      : {}),
  });
}

/** Fields other than the status (status.ts alone moves that). */
export type AccountPatch = Partial<Omit<typeof capacityAccounts.$inferInsert, "id" | "status" | "statusChangedAt">>;

export async function patchAccount(db: Database, id: string, patch: AccountPatch): Promise<AccountRow> {
  const [row] = await db.update(capacityAccounts).set(patch).where(eq(capacityAccounts.id, id)).returning();
  if (!row) throw new ApiError("not_found", `No capacity account ${id}`);
  return row;
}

/** Unexecuted, for a batch. */
export function deleteAccountQuery(db: Database, id: string) {
  return db.delete(capacityAccounts).where(eq(capacityAccounts.id, id));
}

export async function accountCredentials(config: Config, account: AccountRow): Promise<ProviderCredentials> {
  if (!account.credentialsSealed) {
    throw new ApiError("state_conflict", `Account ${account.id} has no credentials; PATCH them first`);
  }
  return credentialsSchema.parse(JSON.parse(await open(config, account.credentialsSealed, sealedFor(account.id))));
}

/** Spend so far: banked runs plus the running one at its hourly rate. */
export function usedUsd(account: AccountRow, now = Date.now()): number {
  const running =
    account.costPerHourUsd && account.billingSince
      ? (account.costPerHourUsd * Math.max(0, now - account.billingSince.getTime())) / 3_600_000
      : 0;
  return account.accruedUsd + running;
}

/** Dollars to the cent, as accounts show them. */
export const roundUsd = (usd: number) => Math.round(usd * 100) / 100;

/** The fields that end the running segment: what it cost is banked and billing stops. */
export function endBilling(account: AccountRow, now = Date.now()) {
  return { accruedUsd: usedUsd(account, now), billingSince: null };
}

function fieldError(field: string, message: string): ApiError {
  return new ApiError("validation_failed", message, {
    issues: [{ location: ["body", field], message, type: "custom" }],
  });
}
