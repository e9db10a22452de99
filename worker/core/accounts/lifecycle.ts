/**
 * What an operator does to a capacity account beyond editing it: deploy,
 * disable, enable, delete. A deploy moves it to `checking`, rotates its agent
 * token (stopping the bridges the last deploy started), then either hands the
 * token back with the command that starts a bridge (self-hosted) or starts a
 * RunPod pod whose bridge runs with it; either way it ends `deploying`, and
 * only a heartbeat of one of its bridges makes it `ready` (liveness.ts).
 *
 * A RunPod refusal of the account's key, quota or settings disables the
 * account; a transient failure (429 after retries, 5xx, no answer) marks it
 * failed — unless, after a 5xx or no answer, RunPod lists a pod of the
 * deploy's name (it started one anyway): that pod is adopted as if created.
 * A redeploy, or a bridge of it heartbeating after all, recovers a failed one. MAX_TRANSIENT_FAILURES of those in a row disable it too.
 */
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { ApiError } from "../../errors/api-error";
import { recordAudit } from "../audit";
import { detachAccountAgents, rotateAccountToken, setAccountAgentsDisabled } from "./agents";
import { createPod, findPodByName, type Pod, ProviderFailure, terminatePod } from "./runpod";
import { type AccountRow, findAccount, moveAccount } from "./status";
import { accountCredentials, deleteAccountQuery, endBilling, patchAccount, roundUsd, usedUsd } from "./store";

/** The original backend's limit: a sixth transient failure in a row disables the account. */
const MAX_TRANSIENT_FAILURES = 6;

export type Deployed =
  | { provider: "self-hosted"; account: AccountRow; agentId: number; env: BridgeEnv; command: string }
  | { provider: "runpod"; account: AccountRow; pod: Pod };

/** The bridge's own variable names (gpu-bridge/README.md). */
export interface BridgeEnv {
  MEDIA_EDGE_URL: string;
  GPU_BRIDGE_TOKEN: string;
}

/**
 * Bridges reach this Worker at PUBLIC_URL. A self-hosted command may fall back
 * to `requestOrigin` (the origin the operator called, e.g. locally); a RunPod
 * pod never does: its address must come from configuration, not from a request.
 */
export async function deployAccount(
  config: Config,
  db: Database,
  accountId: string,
  requestOrigin: string,
  now = Date.now(),
): Promise<Deployed> {
  const account = await findAccount(db, accountId);
  if (account.provider === "runpod" && !config.PUBLIC_URL) {
    throw new ApiError("admin_env_missing", "PUBLIC_URL is not configured", {
      userAction: "Set PUBLIC_URL to the address bridges on RunPod should connect to, then deploy again.",
    });
  }
  const publicUrl = (config.PUBLIC_URL ?? requestOrigin).replace(/\/+$/, "");
  if (account.provider === "local") {
    throw new ApiError("state_conflict", "Local bridges are started by npm start or enrolled with POST /admin/agents");
  }
  const used = usedUsd(account, now);
  if (used >= account.monthlyLimitUsd) {
    throw new ApiError("state_conflict", `Account ${account.id} has used its monthly limit`, {
      details: { used_usd: roundUsd(used), monthly_limit_usd: account.monthlyLimitUsd },
      userAction: "Raise monthly_limit_usd or reset the usage (PATCH the account), then deploy again.",
    });
  }
  // Checked before anything changes: without the key (503), credentials or settings (409) nothing moves.
  const runpod = account.provider === "runpod" ? await runpodDeploy(config, account) : null;
  // The running pod goes first: a new one must never replace a pod still billing unrecorded.
  const released = await moveAccount(db, await releasedPod(config, db, account, now), "checking", {}, now);
  const agent = await rotateAccountToken(db, accountId, now);
  const env: BridgeEnv = { MEDIA_EDGE_URL: publicUrl, GPU_BRIDGE_TOKEN: agent.token };

  if (!runpod) {
    const deploying = await moveAccount(
      db,
      released,
      "deploying",
      {
        billingSince: released.costPerHourUsd ? new Date(now) : null,
        failCount: 0,
        lastError: null,
        failureType: null,
      },
      now,
    );
    return { provider: "self-hosted", account: deploying, agentId: agent.agentId, env, command: bridgeCommand(env) };
  }

  const name = `media-edge-${accountId}`;
  let pod: Pod;
  try {
    pod = await createPod(config, runpod.apiKey, {
      name,
      imageName: runpod.settings.image,
      gpuTypeIds: runpod.settings.gpu_type_ids,
      gpuCount: runpod.settings.gpu_count,
      cloudType: runpod.settings.cloud_type,
      containerDiskInGb: runpod.settings.container_disk_gb,
      env: { ...env },
      ...(runpod.settings.docker_start_cmd ? { dockerStartCmd: runpod.settings.docker_start_cmd } : {}),
    });
  } catch (error) {
    if (!(error instanceof ProviderFailure)) throw error;
    // RunPod is known to answer 5xx (or nothing) for a pod it did start: find it, so it is tracked and billed.
    const started =
      error.kind === "transient" && error.status !== 429 ? await podNamed(config, runpod.apiKey, name) : null;
    if (!started) throw await deployFailed(db, released, error, now);
    pod = started;
  }
  const deploying = await moveAccount(
    db,
    released,
    "deploying",
    {
      podId: pod.id,
      costPerHourUsd: pod.costPerHr ?? null,
      billingSince: new Date(now),
      failCount: 0,
      lastError: null,
      failureType: null,
    },
    now,
  );
  return { provider: "runpod", account: deploying, pod };
}

/** The pod a failed create may have started; none when RunPod cannot say either. */
async function podNamed(config: Config, apiKey: string, name: string): Promise<Pod | null> {
  try {
    return await findPodByName(config, apiKey, name);
  } catch {
    return null;
  }
}

async function runpodDeploy(config: Config, account: AccountRow) {
  const { api_key } = await accountCredentials(config, account);
  if (!account.runpod) throw new ApiError("state_conflict", `Account ${account.id} has no RunPod settings`);
  return { apiKey: api_key, settings: account.runpod };
}

export async function disableAccount(config: Config, db: Database, accountId: string, now = Date.now()) {
  const account = await findAccount(db, accountId);
  const disabled = await moveAccount(db, account, "disabled", {}, now);
  await setAccountAgentsDisabled(db, accountId, true, now);
  // Disabling must happen even if RunPod will not terminate the pod: it stays recorded and billed.
  return (await releasePod(config, db, disabled, now)).account;
}

/** Back to pending: its agents may authenticate again, and a deploy makes it ready. */
export async function enableAccount(db: Database, accountId: string, now = Date.now()) {
  const account = await findAccount(db, accountId);
  const pending = await moveAccount(db, account, "pending", { failCount: 0 }, now);
  await setAccountAgentsDisabled(db, accountId, false, now);
  return pending;
}

export async function deleteAccount(config: Config, db: Database, accountId: string, now = Date.now()) {
  const account = await findAccount(db, accountId);
  if (account.provider === "local") {
    throw new ApiError("state_conflict", "The local account holds the embedded bridges and cannot be deleted");
  }
  await releasedPod(config, db, account, now);
  // Agents keep their history but no longer name the account (their foreign key would block the delete).
  await db.batch([detachAccountAgents(db, accountId, now), deleteAccountQuery(db, accountId)]);
}

/**
 * Ends the current run: terminates the account's RunPod pod (so it stops
 * billing) and banks its cost. A pod RunPod would not terminate is left
 * recorded, with a system audit row naming it, and billing goes on.
 */
async function releasePod(
  config: Config,
  db: Database,
  account: AccountRow,
  now: number,
): Promise<{ account: AccountRow; released: boolean }> {
  if (account.podId) {
    try {
      const { api_key } = await accountCredentials(config, account);
      await terminatePod(config, api_key, account.podId);
    } catch (error) {
      await recordAudit(db, {
        action: "account_pod_release_failed",
        success: false,
        actor: "system",
        target: account.id,
        details: { pod_id: account.podId, error: error instanceof ApiError ? error.code : String(error) },
      });
      return { account, released: false };
    }
  }
  return { account: await patchAccount(db, account.id, { podId: null, ...endBilling(account, now) }), released: true };
}

/** releasePod for a deploy or a delete, which must not go on past a pod still running: 502 then, nothing changed. */
async function releasedPod(config: Config, db: Database, account: AccountRow, now: number): Promise<AccountRow> {
  const { account: after, released } = await releasePod(config, db, account, now);
  if (!released) {
    throw new ApiError("pod_release_failed", `RunPod did not terminate pod ${account.podId}`, {
      details: { pod_id: account.podId },
    });
  }
  return after;
}

async function deployFailed(db: Database, account: AccountRow, failure: ProviderFailure, now: number) {
  const failCount = failure.kind === "transient" ? account.failCount + 1 : account.failCount;
  const disable = failure.kind !== "transient" || failCount >= MAX_TRANSIENT_FAILURES;
  const moved = await moveAccount(
    db,
    account,
    disable ? "disabled" : "failed",
    { lastError: failure.message, failureType: failure.kind, failCount },
    now,
  );
  if (disable) await setAccountAgentsDisabled(db, account.id, true, now);
  const details = { failure_type: failure.kind, provider_status: failure.status, account_status: moved.status };
  await recordAudit(db, {
    action: "account_deploy_failed",
    success: false,
    actor: "system",
    target: account.id,
    details: { ...details, fail_count: failCount },
  });
  if (!disable) {
    return new ApiError("deploy_unavailable", failure.message, {
      details,
      retryAfterSeconds: failure.retryAfterSeconds,
    });
  }
  return new ApiError("deploy_rejected", failure.message, {
    details,
    ...(failure.kind === "transient"
      ? { userAction: `Disabled after ${failCount} failed deploys in a row: enable it and deploy again later.` }
      : {}),
  });
}

/** The command an operator runs in a checkout of this repository to start the account's bridge. */
function bridgeCommand(env: BridgeEnv): string {
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)}`);
  return `${assignments.join(" ")} npm run bridge -- run`;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
