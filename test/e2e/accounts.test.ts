/**
 * A self-hosted capacity account end to end: an operator adds it and deploys
 * it against a real local Worker, a real GPU bridge process started with the
 * deploy's environment registers and polls, the account turns ready with its
 * bridge online, and that bridge runs a job. A redeploy rotates the token and
 * the old bridge stops on its first refused call (exit code 1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalWorker, startLocalWorker } from "../../scripts/lib/local-worker";
import { type BridgeProcess, makeClip, Operator, startBridge, stopBridge } from "./harness";

interface Account {
  id: string;
  status: string;
  health: { bridges_online: number } | null;
}
interface Deployment {
  account: Account;
  bridge: { env: { MEDIA_EDGE_URL: string; GPU_BRIDGE_TOKEN: string }; command: string };
}

let worker: LocalWorker;
let operator: Operator;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  worker = await startLocalWorker();
  operator = await Operator.signIn(worker);
}, 120_000);

afterAll(async () => {
  await Promise.all(bridges.map((bridge) => stopBridge(bridge, "SIGKILL")));
  await worker?.dispose();
});

const post = { method: "POST", headers: { "content-type": "application/json" } };

async function deploy(id: string): Promise<Deployment> {
  return (await operator.admin(`/admin/accounts/${id}/deploy`, 200, { method: "POST" })) as Deployment;
}

/** The account once `accept` holds (the promotion lands just after the bridge's poll). */
async function accountWhen(id: string, accept: (account: Account) => boolean): Promise<Account> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const account = (await operator.admin(`/admin/accounts/${id}`, 200)) as Account;
    if (accept(account)) return account;
    if (Date.now() > deadline) throw new Error(`account never matched: ${JSON.stringify(account)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("a self-hosted account deployed through the admin API", () => {
  it("its deploy command starts a bridge that makes it ready and runs jobs; a redeploy stops that bridge", async () => {
    const account = (await operator.admin("/admin/accounts", 201, {
      ...post,
      body: JSON.stringify({ provider: "self-hosted", label: "e2e GPU box" }),
    })) as Account;
    expect(account.status).toBe("pending");

    const deployed = await deploy(account.id);
    expect(deployed.account.status).toBe("deploying");
    expect(deployed.bridge.env.MEDIA_EDGE_URL).toBe(worker.url);
    expect(deployed.bridge.command).toContain(`GPU_BRIDGE_TOKEN='${deployed.bridge.env.GPU_BRIDGE_TOKEN}'`);

    // The bridge runs with exactly the environment the deploy printed.
    const first = startBridge(worker, "e2e-account", deployed.bridge.env);
    bridges.push(first);
    const registered = await first.waitFor("bridge.registered");
    const ready = await accountWhen(account.id, (current) => current.status === "ready");
    expect(ready.health?.bridges_online).toBe(1);

    const { taskId } = await operator.dispatchFacts(await operator.upload(makeClip()));
    const task = await operator.finished(taskId);
    expect(task.status).toBe("done");
    expect(task.jobs[0]?.agent_id).toBe(registered.agent_id);

    const again = await deploy(account.id);
    expect(again.bridge.env.GPU_BRIDGE_TOKEN).not.toBe(deployed.bridge.env.GPU_BRIDGE_TOKEN);
    expect(await first.exited).toBe(1);

    const second = startBridge(worker, "e2e-account-2", again.bridge.env);
    bridges.push(second);
    await second.waitFor("bridge.registered");
    await accountWhen(account.id, (current) => current.status === "ready");
    await stopBridge(second);
  });
});
