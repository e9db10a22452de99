/**
 * Deploying a self-hosted account: the response's command carries a fresh
 * agent token of the account; a bridge started with it registers, its first
 * poll (its heartbeat) makes the account ready, and its health counts it.
 * A redeploy rotates the token; disable stops it; enable and deploy again
 * bring the account back.
 */

import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents } from "../../worker/db/schema";
import {
  accountRow,
  adminCall,
  callWithEnv,
  type DeployJson,
  deploy,
  fromCommand,
  readAccount,
  runpodAccount,
  selfHosted,
  startBridge,
  waitForStatus,
} from "../helpers/accounts";
import { credentialFor, db } from "../helpers/fixtures";
import { expect000 } from "../helpers/http";
import { makeOperator } from "../helpers/jobs";

describe("POST /admin/accounts/{id}/deploy (self-hosted)", () => {
  it("returns the exact bridge command; its token's bridge heartbeats the account to ready", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op, { cost_per_hour_usd: 1.2 });
    const response = await adminCall(op, `/admin/accounts/${account.id}/deploy`, { method: "POST" });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const deployed = (await response.json()) as DeployJson;
    expect(deployed.account).toMatchObject({ id: account.id, status: "deploying" });
    const bridge = deployed.bridge;
    if (!bridge) throw new Error("a self-hosted deploy answers with a bridge");
    expect(bridge.env.MEDIA_EDGE_URL).toBe("https://edge.test");
    expect(bridge.command).toBe(
      `MEDIA_EDGE_URL='https://edge.test' GPU_BRIDGE_TOKEN='${bridge.env.GPU_BRIDGE_TOKEN}' npm run bridge -- run`,
    );
    const token = fromCommand(bridge.command, "GPU_BRIDGE_TOKEN");
    const credential = await credentialFor(token);
    expect(credential).toMatchObject({ kind: "agent_token", principalId: bridge.agent_id });

    // Neither the response's audit row nor any other row holds the token.
    const audit = await db()
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.target, `/admin/accounts/${account.id}/deploy`));
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(token);

    // Registered but not yet heard from: still deploying.
    const started = await startBridge(token);
    expect((await accountRow(account.id))?.status).toBe("deploying");
    expect((await started.poll()).status).toBe(200);
    await waitForStatus(account.id, "ready");

    const ready = await readAccount(op, account.id);
    expect(ready).toMatchObject({
      status: "ready",
      cost_per_hour_usd: 1.2,
      health: { bridges_online: 1, last_heartbeat_at: expect.any(String) },
    });
    const promoted = await db().select().from(auditEvents).where(eq(auditEvents.target, account.id));
    expect(promoted).toEqual([expect.objectContaining({ action: "account_ready", actor: "system", success: true })]);
  });

  it("a redeploy rotates the token: the old bridge is refused, the new one makes it ready again", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    const first = (await deploy(op, account.id)).bridge?.env.GPU_BRIDGE_TOKEN ?? "";
    const old = await startBridge(first);
    await old.poll();
    await waitForStatus(account.id, "ready");

    const second = await deploy(op, account.id);
    expect(second.account.status).toBe("deploying");
    const token = second.bridge?.env.GPU_BRIDGE_TOKEN ?? "";
    expect(token).not.toBe(first);
    expect((await credentialFor(first)).revokedReason).toBe("rotated");
    expect((await old.poll()).status).toBe(401);

    const fresh = await startBridge(token);
    expect((await fresh.poll()).status).toBe(200);
    await waitForStatus(account.id, "ready");
  });

  it("disable stops the account's bridges at once; enable and deploy bring it back", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    const token = (await deploy(op, account.id)).bridge?.env.GPU_BRIDGE_TOKEN ?? "";
    const bridge = await startBridge(token);
    await bridge.poll();
    await waitForStatus(account.id, "ready");

    const disabled = await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" });
    expect(await disabled.json()).toMatchObject({ status: "disabled" });
    expect((await bridge.poll()).status).toBe(401);

    const enabled = await adminCall(op, `/admin/accounts/${account.id}/enable`, { method: "POST" });
    expect(await enabled.json()).toMatchObject({ status: "pending" });
    const again = await deploy(op, account.id);
    const next = await startBridge(again.bridge?.env.GPU_BRIDGE_TOKEN ?? "");
    expect((await next.poll()).status).toBe(200);
    await waitForStatus(account.id, "ready");
  });

  it("a bridge of a pending account does not make it ready: only a deployed account is promoted", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    const token = (await deploy(op, account.id)).bridge?.env.GPU_BRIDGE_TOKEN ?? "";
    await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" });
    await adminCall(op, `/admin/accounts/${account.id}/enable`, { method: "POST" });
    // Enabled again, the old token works, but the account waits for a deploy.
    const bridge = await startBridge(token);
    expect((await bridge.poll()).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await accountRow(account.id))?.status).toBe("pending");
  });

  it("without PUBLIC_URL, a self-hosted command names the request's origin; a RunPod deploy is refused (503)", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    const send = (id: string) =>
      callWithEnv({ PUBLIC_URL: undefined }, `/admin/accounts/${id}/deploy`, { method: "POST", cookies: op.cookies });
    const response = await send(account.id);
    expect(response.status).toBe(200);
    expect(((await response.json()) as DeployJson).bridge?.env.MEDIA_EDGE_URL).toBe("https://edge.test");
    const pod = await runpodAccount(op, "rp_test_key_without_public_url");
    const refused = await expect000(await send(pod.id), 503, "admin_env_missing");
    expect(refused.user_action).toMatch(/PUBLIC_URL/);
    expect((await accountRow(pod.id))?.status).toBe("pending");
  });

  it("uses PUBLIC_URL, when configured, as the bridges' MEDIA_EDGE_URL instead of the request's origin", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    const response = await callWithEnv(
      { PUBLIC_URL: "https://media.example.com/" },
      `/admin/accounts/${account.id}/deploy`,
      {
        method: "POST",
        cookies: op.cookies,
      },
    );
    expect(response.status).toBe(200);
    const deployed = (await response.json()) as DeployJson;
    expect(deployed.bridge?.env.MEDIA_EDGE_URL).toBe("https://media.example.com");
  });
});
