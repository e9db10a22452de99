/**
 * GET /admin/health: the original client's {ok, storage_ok, ready_accounts}
 * plus storage probes, JobBoard depth, bridges online per account, accounts
 * by status and the volume of stored media.
 */
import { describe, expect, it } from "vitest";
import { adminCall, deploy, selfHosted, startBridge, waitForStatus } from "../helpers/accounts";
import { call, expect000 } from "../helpers/http";
import { dispatchFacts, makeBridge, makeOperator, type Operator, uploadInput } from "../helpers/jobs";

interface HealthJson {
  ok: boolean;
  storage_ok: boolean;
  ready_accounts: number;
  storage: { database: { ok: boolean }; r2: { ok: boolean } };
  queue: { pending: number; claimed: number; outbox: number; boards: Record<string, { pending: number }> };
  agents_online: Record<string, number>;
  accounts: { total: number; by_status: Record<string, number> };
  media: { artifacts: number; bytes: number };
  checked_at: string;
}

async function health(op: Operator): Promise<HealthJson> {
  const response = await adminCall(op, "/admin/health");
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as HealthJson;
}

describe("GET /admin/health", () => {
  it("reports storage, boards, accounts by status and stored media", async () => {
    const op = await makeOperator();
    const body = await health(op);
    expect(body).toMatchObject({
      ok: true,
      storage_ok: true,
      storage: { database: { ok: true }, r2: { ok: true } },
      queue: { pending: expect.any(Number), boards: { "extract_facts#0": { pending: expect.any(Number) } } },
      media: { artifacts: expect.any(Number), bytes: expect.any(Number) },
    });
    expect(Object.keys(body.accounts.by_status).sort()).toEqual(
      ["checking", "deploying", "disabled", "failed", "pending", "ready"].sort(),
    );
    // A new account is counted once, as pending.
    await selfHosted(op);
    const after = await health(op);
    expect(after.accounts.by_status.pending).toBe((body.accounts.by_status.pending ?? 0) + 1);
    expect(after.accounts.total).toBe(body.accounts.total + 1);
    expect(after.ready_accounts).toBe(body.ready_accounts);
  });

  it("counts a newly ready account, its bridge online, pending jobs and uploaded bytes", async () => {
    const op = await makeOperator();
    const before = await health(op);

    const account = await selfHosted(op);
    const token = (await deploy(op, account.id)).bridge?.env.GPU_BRIDGE_TOKEN ?? "";
    await (await startBridge(token, ["audio.waveform@1"])).poll();
    await waitForStatus(account.id, "ready");
    await uploadInput(op, new Uint8Array(1000));
    await dispatchFacts(op);

    const after = await health(op);
    expect(after.agents_online[account.id]).toBe(1);
    expect(after.accounts.total).toBeGreaterThanOrEqual(before.accounts.total + 1);
    expect(after.ready_accounts).toBeGreaterThanOrEqual(1);
    // Other test files run beside this one: only growth is certain.
    expect(after.media.bytes).toBeGreaterThanOrEqual(before.media.bytes + 1000);
    expect(after.queue.boards["extract_facts#0"]?.pending).toBeGreaterThanOrEqual(1);
  });

  it("a bridge of the local account counts under local", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge();
    await bridge.list("limit=1");
    expect((await health(op)).agents_online.local).toBeGreaterThanOrEqual(1);
  });

  it("needs the admin session", async () => {
    await expect000(await call("/admin/health"), 401, "admin_session_required");
  });
});
