/**
 * Deploying a RunPod account against the fake RunPod API
 * (test/helpers/fake-runpod.ts): the pod request's shape, what each failure
 * does to the account (401/402/400 disable it; 429 is retried, then fails it;
 * a 5xx fails it without a retry, since the pod may exist), recovery by a
 * redeploy or by the pod's bridge heartbeating after all, and the pod's
 * termination when the account is disabled, redeployed or deleted.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, capacityAccounts } from "../../worker/db/schema";
import {
  accountRow,
  adminCall,
  type DeployJson,
  deploy,
  RUNPOD_SETTINGS,
  readAccount,
  runpodAccount,
  startBridge,
  waitForStatus,
} from "../helpers/accounts";
import { type RecordedCall, useFakeRunpod } from "../helpers/fake-runpod";
import { ago, auditFor, db } from "../helpers/fixtures";
import { expect000 } from "../helpers/http";
import { makeOperator, type Operator, registerBridge } from "../helpers/jobs";

const runpod = useFakeRunpod();

const deployCall = (op: Operator, id: string) => adminCall(op, `/admin/accounts/${id}/deploy`, { method: "POST" });

/** The bridge in a pod: registers with the token the pod was given, then polls. */
async function podBridgeHeartbeats(token: string): Promise<void> {
  const bridge = await startBridge(token);
  expect((await bridge.poll()).status).toBe(200);
}

/** The bridge token a recorded pod create carried (RunPod got it even when it refused the pod). */
const tokenSent = (call: RecordedCall | undefined) =>
  (call?.body?.env as { GPU_BRIDGE_TOKEN?: string } | undefined)?.GPU_BRIDGE_TOKEN ?? "";

describe("POST /admin/accounts/{id}/deploy (runpod)", () => {
  it("starts a pod running the bridge with the account's token, in RunPod's documented request shape", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key, {
      runpod: { ...RUNPOD_SETTINGS, docker_start_cmd: ["npm", "run", "bridge"] },
    });
    const deployed = await deploy(op, account.id);

    const calls = runpod().callsWith(key);
    expect(calls).toHaveLength(1);
    const [create] = calls;
    expect(create).toMatchObject({ method: "POST", path: "/v1/pods", apiKey: key });
    expect(create?.body).toEqual({
      name: `media-edge-${account.id}`,
      imageName: RUNPOD_SETTINGS.image,
      gpuTypeIds: RUNPOD_SETTINGS.gpu_type_ids,
      gpuCount: 1,
      cloudType: "SECURE",
      containerDiskInGb: 50,
      dockerStartCmd: ["npm", "run", "bridge"],
      env: { MEDIA_EDGE_URL: "https://edge.test", GPU_BRIDGE_TOKEN: expect.stringMatching(/^agt_/) },
    });
    const pod = runpod().pods.get(deployed.pod?.id ?? "");
    expect(pod).toBeDefined();
    expect(deployed).toMatchObject({
      account: { status: "deploying", pod_id: pod?.id, cost_per_hour_usd: 0.74, failure_type: null },
      pod: { id: pod?.id, desired_status: "RUNNING", cost_per_hour_usd: 0.74 },
    });
    // The response shows the pod, never the token it was given, nor the RunPod key.
    expect(JSON.stringify(deployed)).not.toContain(pod?.env.GPU_BRIDGE_TOKEN);
    expect(JSON.stringify(deployed)).not.toContain(key);

    await podBridgeHeartbeats(pod?.env.GPU_BRIDGE_TOKEN ?? "");
    await waitForStatus(account.id, "ready");
  });

  it("a 401 disables the account (auth), stops its agents and says why, without retrying", async () => {
    const op = await makeOperator();
    const account = await runpodAccount(op, "rpa_not-a-key-runpod-knows");
    const response = await deployCall(op, account.id);
    const body = await expect000(response, 502, "deploy_rejected");
    expect(body.metadata).toEqual({ failure_type: "auth", provider_status: 401, account_status: "disabled" });
    const calls = runpod().callsWith("rpa_not-a-key-runpod-knows");
    expect(calls).toHaveLength(1);
    expect(await readAccount(op, account.id)).toMatchObject({
      status: "disabled",
      failure_type: "auth",
      last_error: "RunPod answered 401: Unauthorized.",
    });
    // The token the deploy issued (and the pod would have run with) no longer authenticates.
    const token = tokenSent(calls[0]);
    expect(token).toMatch(/^agt_/);
    expect((await registerBridge(token, ["media.facts@1"])).status).toBe(401);
    const failed = await db().select().from(auditEvents).where(eq(auditEvents.target, account.id));
    expect(failed).toEqual([
      expect.objectContaining({ action: "account_deploy_failed", actor: "system", success: false }),
    ]);
    expect(JSON.stringify(failed)).not.toContain("rpa_not-a-key-runpod-knows");
  });

  it("402 (quota) and 400 (settings RunPod refuses) disable it too, each with its failure type", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const quota = await runpodAccount(op, key);
    runpod().failNext(key, { status: 402, error: "Insufficient balance." });
    await expect000(await deployCall(op, quota.id), 502, "deploy_rejected");
    expect(await accountRow(quota.id)).toMatchObject({ status: "disabled", failureType: "quota" });

    const badGpu = await runpodAccount(op, key, { runpod: { ...RUNPOD_SETTINGS, gpu_type_ids: ["NVIDIA GTX 9999"] } });
    const body = await expect000(await deployCall(op, badGpu.id), 502, "deploy_rejected");
    expect(body.detail).toBe("RunPod answered 400: Invalid input: gpuTypeIds.");
    expect(await accountRow(badGpu.id)).toMatchObject({ status: "disabled", failureType: "config" });
  });

  it("redacts the account's key from a RunPod error that echoes it: not in the answer, the account or the audit", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    runpod().failNext(key, { status: 400, error: `Invalid API key ${key} for this request.` });
    const response = await deployCall(op, account.id);
    expect(await response.clone().text()).not.toContain(key);
    const body = await expect000(response, 502, "deploy_rejected");
    expect(body.detail).toBe("RunPod answered 400: Invalid API key [redacted] for this request.");
    expect((await accountRow(account.id))?.lastError).toBe(body.detail);
    const audit = [
      ...(await auditFor(response)),
      ...(await db().select().from(auditEvents).where(eq(auditEvents.target, account.id))),
    ];
    expect(audit.map((row) => row.action).sort()).toEqual(["account_deploy", "account_deploy_failed"]);
    expect(JSON.stringify(audit)).not.toContain(key);
  });

  it("a 429 is retried after Retry-After and the deploy succeeds", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    runpod().failNext(key, { status: 429, retryAfter: 0 }, { status: 429, retryAfter: 0 });
    const deployed = await deploy(op, account.id);
    expect(deployed.account.status).toBe("deploying");
    expect(runpod().callsWith(key)).toHaveLength(3);
  });

  it("429s past the retries mark it failed (503, Retry-After), and a later deploy recovers it", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    runpod().failNext(key, ...Array.from({ length: 3 }, () => ({ status: 429, retryAfter: 0 })));
    const response = await deployCall(op, account.id);
    const body = await expect000(response, 503, "deploy_unavailable");
    expect(body.metadata).toEqual({ failure_type: "transient", provider_status: 429, account_status: "failed" });
    expect(response.headers.get("retry-after")).toBe("1");
    expect(runpod().callsWith(key)).toHaveLength(3);
    expect(await accountRow(account.id)).toMatchObject({ status: "failed", failureType: "transient", failCount: 1 });

    const recovered = await deploy(op, account.id);
    expect(recovered.account).toMatchObject({ status: "deploying", fail_count: 0, last_error: null });
  });

  it("a Retry-After longer than RUNPOD_RETRY_MAX_WAIT_S is not waited for inside the request", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    runpod().failNext(key, { status: 429, retryAfter: 3600 });
    const response = await deployCall(op, account.id);
    await expect000(response, 503, "deploy_unavailable");
    expect(response.headers.get("retry-after")).toBe("3600");
    expect(runpod().callsWith(key)).toHaveLength(1);
  });

  it("a 5xx marks it failed without retrying the create, once RunPod lists no pod of the deploy's name", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    runpod().failNext(key, { status: 500, error: "internal error" });
    await expect000(await deployCall(op, account.id), 503, "deploy_unavailable");
    expect(
      runpod()
        .callsWith(key)
        .map((c) => `${c.method} ${c.path}`),
    ).toEqual(["POST /v1/pods", "GET /v1/pods"]);
    expect(await accountRow(account.id)).toMatchObject({ status: "failed", podId: null });
  });

  it("a 5xx for a pod RunPod started anyway: the pod is found by name and adopted, tracked and billed", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    runpod().failNext(key, { status: 500, error: "internal error", createsPod: true });
    const response = await deployCall(op, account.id);
    expect(response.status, await response.clone().text()).toBe(200);
    const [pod] = [...runpod().pods.values()].filter((candidate) => candidate.apiKey === key);
    expect(((await response.json()) as DeployJson).pod?.id).toBe(pod?.id);
    expect(await accountRow(account.id)).toMatchObject({ status: "deploying", podId: pod?.id, costPerHourUsd: 0.74 });
    expect((await accountRow(account.id))?.billingSince).not.toBeNull();

    // Its bridge comes up with the token it was given, and a disable terminates it.
    await podBridgeHeartbeats(pod?.env.GPU_BRIDGE_TOKEN ?? "");
    await waitForStatus(account.id, "ready");
    await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" });
    expect(runpod().pods.has(pod?.id ?? "")).toBe(false);
  });

  it("the sixth transient failure in a row disables the account", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    await db()
      .update(capacityAccounts)
      .set({ status: "failed", failCount: 5 })
      .where(eq(capacityAccounts.id, account.id));
    runpod().failNext(key, { status: 503 });
    const body = await expect000(await deployCall(op, account.id), 502, "deploy_rejected");
    expect(body.user_action).toContain("6 failed deploys");
    expect(await accountRow(account.id)).toMatchObject({ status: "disabled", failCount: 6 });
  });

  it("disable terminates the pod and banks what it cost; a redeploy replaces the pod; delete terminates it", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    const first = await deploy(op, account.id);
    // Two hours of the pod at 0.74 $/h.
    await db()
      .update(capacityAccounts)
      .set({ billingSince: ago(7200) })
      .where(eq(capacityAccounts.id, account.id));
    expect((await readAccount(op, account.id)).used_usd).toBe(1.48);

    const second = await deploy(op, account.id);
    expect(second.pod?.id).not.toBe(first.pod?.id);
    expect(runpod().pods.has(first.pod?.id ?? "")).toBe(false);
    expect(
      runpod()
        .callsWith(key)
        .map((c) => c.method),
    ).toEqual(["POST", "DELETE", "POST"]);
    expect(second.account.used_usd).toBe(1.48);

    const disabled = await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" });
    expect(await disabled.json()).toMatchObject({ status: "disabled", pod_id: null });
    expect(runpod().pods.has(second.pod?.id ?? "")).toBe(false);

    await adminCall(op, `/admin/accounts/${account.id}/enable`, { method: "POST" });
    const third = await deploy(op, account.id);
    expect((await adminCall(op, `/admin/accounts/${account.id}`, { method: "DELETE" })).status).toBe(204);
    expect(runpod().pods.has(third.pod?.id ?? "")).toBe(false);
  });

  it("a pod RunPod will not terminate stops a redeploy and a delete: 502 pod_release_failed, nothing changed", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    const deployed = await deploy(op, account.id);
    const podId = deployed.pod?.id ?? "";

    runpod().failNext(key, { status: 401 });
    await expect000(
      await adminCall(op, `/admin/accounts/${account.id}/deploy`, { method: "POST" }),
      502,
      "pod_release_failed",
    );
    runpod().failNext(key, { status: 401 });
    await expect000(
      await adminCall(op, `/admin/accounts/${account.id}`, { method: "DELETE" }),
      502,
      "pod_release_failed",
    );

    // No second pod was started, the first is still recorded (and billed), the account is still there.
    expect(
      runpod()
        .callsWith(key)
        .map((c) => c.method),
    ).toEqual(["POST", "DELETE", "DELETE"]);
    expect(runpod().pods.has(podId)).toBe(true);
    const after = await adminCall(op, `/admin/accounts/${account.id}`);
    expect(await after.json()).toMatchObject({ status: "deploying", pod_id: podId });
    // Once RunPod terminates it, the delete goes through.
    expect((await adminCall(op, `/admin/accounts/${account.id}`, { method: "DELETE" })).status).toBe(204);
    expect(runpod().pods.has(podId)).toBe(false);
  });

  it("a pod RunPod will not terminate is recorded for the operator, and the disable still happens", async () => {
    const op = await makeOperator();
    const key = runpod().key();
    const account = await runpodAccount(op, key);
    const deployed = await deploy(op, account.id);
    runpod().failNext(key, { status: 401 });
    const disabled = await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" });
    expect(await disabled.json()).toMatchObject({ status: "disabled", pod_id: deployed.pod?.id });
    const rows = await db().select().from(auditEvents).where(eq(auditEvents.target, account.id));
    expect(rows).toEqual([
      expect.objectContaining({
        action: "account_pod_release_failed",
        actor: "system",
        details: expect.objectContaining({ pod_id: deployed.pod?.id }),
      }),
    ]);
  });
});
