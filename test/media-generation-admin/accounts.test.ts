/**
 * /admin/accounts CRUD: validation, the status machine's refusals, sealed
 * credentials (never in a response, an audit row or the row in clear), the 503
 * without the sealing key, and one audit row per admin call.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { capacityAccounts } from "../../worker/db/schema";
import {
  accountRow,
  adminCall,
  callWithEnv,
  createAccount,
  deploy,
  readAccount,
  runpodAccount,
  selfHosted,
} from "../helpers/accounts";
import { ago, auditFor, db } from "../helpers/fixtures";
import { expect000 } from "../helpers/http";
import { makeOperator, registerBridge } from "../helpers/jobs";

const SECRET_KEY = "rpa_THIS-IS-A-SECRET-RUNPOD-KEY-0123456789";

describe("POST /admin/accounts", () => {
  it("creates a self-hosted account, pending, with the default monthly limit and no spend", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op, { label: "  Basement GPUs  ", cost_per_hour_usd: 0.5 });
    expect(account).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      label: "Basement GPUs",
      provider: "self-hosted",
      status: "pending",
      monthly_limit_usd: 50,
      used_usd: 0,
      cost_per_hour_usd: 0.5,
      has_credentials: false,
      runpod: null,
      pod_id: null,
      fail_count: 0,
      health: { bridges_online: 0, last_heartbeat_at: null },
    });
    expect(await readAccount(op, account.id)).toMatchObject({ id: account.id, status: "pending" });
  });

  it("creates a RunPod account with its settings' defaults; the key is sealed and never shown", async () => {
    const op = await makeOperator();
    const response = await adminCall(op, "/admin/accounts", {
      json: {
        provider: "runpod",
        label: "RunPod EU",
        monthly_limit_usd: 20,
        credentials: { api_key: SECRET_KEY },
        runpod: { image: "ghcr.io/example/gpu-bridge:1", gpu_type_ids: ["NVIDIA L40S"] },
      },
    });
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(text).not.toContain(SECRET_KEY);
    const account = JSON.parse(text);
    expect(account).toMatchObject({
      provider: "runpod",
      has_credentials: true,
      monthly_limit_usd: 20,
      runpod: {
        image: "ghcr.io/example/gpu-bridge:1",
        gpu_type_ids: ["NVIDIA L40S"],
        gpu_count: 1,
        cloud_type: "SECURE",
        container_disk_gb: 50,
      },
    });

    const row = await accountRow(account.id);
    expect(row?.credentialsSealed).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(row)).not.toContain(SECRET_KEY);
    expect(JSON.stringify(await auditFor(response))).not.toContain(SECRET_KEY);

    for (const path of ["/admin/accounts", `/admin/accounts/${account.id}`]) {
      const read = await adminCall(op, path);
      expect(read.status).toBe(200);
      expect(await read.text()).not.toContain(SECRET_KEY);
    }
  });

  it("refuses invalid accounts with 422 validation_error naming the fields", async () => {
    const op = await makeOperator();
    const cases: [Record<string, unknown>, string][] = [
      [{ provider: "self-hosted" }, "label"],
      [{ provider: "modal", label: "x" }, "provider"],
      [{ provider: "self-hosted", label: "x", monthly_limit_usd: -1 }, "monthly_limit_usd"],
      [{ provider: "self-hosted", label: "x", credentials: { api_key: "rpa_12345678" } }, ""],
      [{ provider: "runpod", label: "x", runpod: { image: "i", gpu_type_ids: ["NVIDIA L40S"] } }, "credentials"],
      [{ provider: "runpod", label: "x", credentials: { api_key: "rpa_12345678" } }, "runpod"],
      [
        {
          provider: "runpod",
          label: "x",
          credentials: { api_key: "rpa_12345678" },
          runpod: { image: "i", gpu_type_ids: [], gpu_count: 0 },
        },
        "runpod.gpu_type_ids",
      ],
    ];
    for (const [body, field] of cases) {
      const response = await adminCall(op, "/admin/accounts", { json: body });
      const error = await expect000(response, 422, "validation_error");
      const fields = (error.metadata as { errors: { field: string }[] }).errors.map((issue) => issue.field);
      if (field) expect(fields, JSON.stringify(body)).toContain(field);
    }
  });

  it("answers 503 admin_env_missing, changing nothing, when the sealing key is not configured", async () => {
    const op = await makeOperator();
    const send = (path: string, init: { method?: string; json?: unknown }) =>
      callWithEnv({ ACCOUNTS_ENCRYPTION_KEY: undefined }, path, { ...init, cookies: op.cookies });
    const label = `no-key-${crypto.randomUUID()}`;
    const created = await send("/admin/accounts", {
      json: {
        provider: "runpod",
        label,
        credentials: { api_key: SECRET_KEY },
        runpod: { image: "i", gpu_type_ids: ["g"] },
      },
    });
    const body = await expect000(created, 503, "admin_env_missing");
    expect(body.detail).toContain("ACCOUNTS_ENCRYPTION_KEY");
    const listed = (await (await adminCall(op, "/admin/accounts")).json()) as { accounts: { label: string }[] };
    expect(listed.accounts.map((account) => account.label)).not.toContain(label);

    // A self-hosted account needs no key; a RunPod deploy does, and fails before any status moves.
    const plain = await send("/admin/accounts", { json: { provider: "self-hosted", label } });
    expect(plain.status).toBe(201);
    const runpod = await runpodAccount(op, SECRET_KEY);
    await expect000(await send(`/admin/accounts/${runpod.id}/deploy`, { method: "POST" }), 503, "admin_env_missing");
    expect((await accountRow(runpod.id))?.status).toBe("pending");
  });
});

describe("sealed credentials", () => {
  it("open only on their own row: a sealed value copied onto another account does not", async () => {
    const op = await makeOperator();
    const source = await runpodAccount(op, SECRET_KEY);
    const target = await runpodAccount(op, "rpa_other-key-123456");
    const sealed = (await accountRow(source.id))?.credentialsSealed ?? null;
    await db().update(capacityAccounts).set({ credentialsSealed: sealed }).where(eq(capacityAccounts.id, target.id));
    const refused = await expect000(
      await adminCall(op, `/admin/accounts/${target.id}/deploy`, { method: "POST" }),
      503,
      "admin_env_missing",
    );
    expect(refused.detail).toContain("do not open");
    expect((await accountRow(target.id))?.status).toBe("pending");
  });
});

describe("GET /admin/accounts", () => {
  it("lists accounts, the seeded local one included, and filters by status", async () => {
    const op = await makeOperator();
    const mine = await selfHosted(op);
    const all = (await (await adminCall(op, "/admin/accounts")).json()) as { accounts: { id: string }[] };
    expect(all.accounts.map((account) => account.id)).toEqual(expect.arrayContaining(["local", mine.id]));
    const ready = (await (await adminCall(op, "/admin/accounts?status=ready")).json()) as {
      accounts: { id: string; status: string }[];
    };
    expect(ready.accounts.every((account) => account.status === "ready")).toBe(true);
    expect(ready.accounts.map((account) => account.id)).toContain("local");
    expect(ready.accounts.map((account) => account.id)).not.toContain(mine.id);
  });

  it("an unknown account is 404", async () => {
    const op = await makeOperator();
    await expect000(await adminCall(op, "/admin/accounts/nope"), 404, "not_found");
  });
});

describe("PATCH /admin/accounts/{id}", () => {
  it("changes the label, limit and rate; replaces credentials without showing them", async () => {
    const op = await makeOperator();
    const account = await runpodAccount(op, "rpa_first-key-123456");
    const before = await accountRow(account.id);
    const response = await adminCall(op, `/admin/accounts/${account.id}`, {
      method: "PATCH",
      json: { label: "Renamed", monthly_limit_usd: 75, credentials: { api_key: SECRET_KEY }, runpod: { gpu_count: 2 } },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(SECRET_KEY);
    expect(JSON.parse(text)).toMatchObject({
      label: "Renamed",
      monthly_limit_usd: 75,
      runpod: { gpu_count: 2, image: "ghcr.io/example/gpu-bridge:1" },
    });
    const after = await accountRow(account.id);
    expect(after?.credentialsSealed).not.toBe(before?.credentialsSealed);
    expect(JSON.stringify(await auditFor(response))).not.toContain(SECRET_KEY);
  });

  it("reset_usage starts a new month: what was spent is dropped, the running deploy bills from now", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op, { cost_per_hour_usd: 2 });
    await deploy(op, account.id);
    // $3 banked, and an hour of the running deploy at $2/h.
    await db()
      .update(capacityAccounts)
      .set({ accruedUsd: 3, billingSince: ago(3600) })
      .where(eq(capacityAccounts.id, account.id));
    expect((await readAccount(op, account.id)).used_usd).toBe(5);
    const reset = await adminCall(op, `/admin/accounts/${account.id}`, {
      method: "PATCH",
      json: { reset_usage: true },
    });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ used_usd: 0 });
    expect((await accountRow(account.id))?.billingSince?.getTime()).toBeGreaterThan(ago(60).getTime());
  });

  it("refuses fields that do not fit the provider, unknown fields and an empty change", async () => {
    const op = await makeOperator();
    const hosted = await selfHosted(op);
    const pod = await runpodAccount(op, "rpa_some-key-123456");
    for (const [id, body] of [
      [hosted.id, { credentials: { api_key: "rpa_12345678" } }],
      [hosted.id, { runpod: { gpu_count: 2 } }],
      [pod.id, { cost_per_hour_usd: 1 }],
      [hosted.id, { status: "ready" }],
      [hosted.id, {}],
    ] as const) {
      await expect000(
        await adminCall(op, `/admin/accounts/${id}`, { method: "PATCH", json: body }),
        422,
        "validation_error",
      );
    }
  });
});

describe("status machine", () => {
  it("refuses forbidden moves with 409 and names the allowed ones", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    // pending cannot be enabled (only disabled can)…
    const enable = await expect000(
      await adminCall(op, `/admin/accounts/${account.id}/enable`, { method: "POST" }),
      409,
      "state_conflict",
    );
    expect(enable.metadata).toMatchObject({ status: "pending", allowed: ["checking", "disabled"] });

    // …disabled cannot be deployed or disabled again, only enabled (back to pending).
    const disabled = await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" });
    expect(disabled.status).toBe(200);
    expect(await disabled.json()).toMatchObject({ status: "disabled" });
    await expect000(
      await adminCall(op, `/admin/accounts/${account.id}/deploy`, { method: "POST" }),
      409,
      "state_conflict",
    );
    await expect000(
      await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" }),
      409,
      "state_conflict",
    );
    const enabled = await adminCall(op, `/admin/accounts/${account.id}/enable`, { method: "POST" });
    expect(await enabled.json()).toMatchObject({ status: "pending" });
  });

  it("the local account is neither deployed nor deleted through the API", async () => {
    const op = await makeOperator();
    await expect000(await adminCall(op, "/admin/accounts/local/deploy", { method: "POST" }), 409, "state_conflict");
    await expect000(await adminCall(op, "/admin/accounts/local", { method: "DELETE" }), 409, "state_conflict");
  });

  it("a deploy over the monthly limit is refused until the limit is raised or usage reset", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op, { monthly_limit_usd: 0 });
    const refused = await expect000(
      await adminCall(op, `/admin/accounts/${account.id}/deploy`, { method: "POST" }),
      409,
      "state_conflict",
    );
    expect(refused.metadata).toMatchObject({ used_usd: 0, monthly_limit_usd: 0 });
    expect((await accountRow(account.id))?.status).toBe("pending");
  });
});

describe("agents of a disabled account", () => {
  it("cannot be enrolled (409) until the account is enabled again", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    expect((await adminCall(op, `/admin/accounts/${account.id}/disable`, { method: "POST" })).status).toBe(200);
    const enroll = () =>
      adminCall(op, "/admin/agents", { json: { name: "late-bridge", capacity_account_id: account.id } });
    await expect000(await enroll(), 409, "state_conflict");
    expect((await adminCall(op, `/admin/accounts/${account.id}/enable`, { method: "POST" })).status).toBe(200);
    expect((await enroll()).status).toBe(201);
  });
});

describe("DELETE /admin/accounts/{id}", () => {
  it("deletes the account (204) and disables its agents", async () => {
    const op = await makeOperator();
    const account = await selfHosted(op);
    const token = (await deploy(op, account.id)).bridge?.env.GPU_BRIDGE_TOKEN ?? "";
    const response = await adminCall(op, `/admin/accounts/${account.id}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    await expect000(await adminCall(op, `/admin/accounts/${account.id}`), 404, "not_found");
    // Its deploy agent outlives it, disabled: the token the deploy gave out no longer authenticates.
    expect((await registerBridge(token, ["media.facts@1"])).status).toBe(401);
  });
});

describe("audit", () => {
  it("writes one row per admin call, named after the action, failures included", async () => {
    const op = await makeOperator();
    const account = await createAccount(op, { provider: "self-hosted", label: "audited" });
    const id = account.id;
    const calls: [string, Parameters<typeof adminCall>[2], string, boolean][] = [
      ["/admin/accounts", {}, "account_list", true],
      [`/admin/accounts/${id}`, {}, "account_read", true],
      [`/admin/accounts/${id}`, { method: "PATCH", json: { label: "audited 2" } }, "account_update", true],
      [`/admin/accounts/${id}/enable`, { method: "POST" }, "account_enable", false],
      [`/admin/accounts/${id}/disable`, { method: "POST" }, "account_disable", true],
      [`/admin/accounts/${id}/enable`, { method: "POST" }, "account_enable", true],
      [`/admin/accounts/${id}/deploy`, { method: "POST" }, "account_deploy", true],
      [`/admin/accounts/${id}`, { method: "DELETE" }, "account_delete", true],
      ["/admin/logs", {}, "logs_read", true],
      ["/admin/health", {}, "health_read", true],
    ];
    for (const [path, options, action, success] of calls) {
      const response = await adminCall(op, path, options);
      const rows = await auditFor(response);
      expect(rows, `${action} ${path}`).toEqual([
        expect.objectContaining({ action, success, actor: `admin:${op.adminId}`, target: path }),
      ]);
      if (!success) expect(rows[0]?.details).toEqual({ code: "state_conflict" });
    }
  });
});
