/**
 * Capacity-account helpers for the admin tests: an operator's calls to
 * /admin/accounts*, the account row as D1 holds it, a bridge started with a
 * deploy's token, and waiting for the heartbeat promotion (it runs after the
 * poll's response, through waitUntil).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { capacityAccounts } from "../../worker/db/schema";
import worker from "../../worker/index";
import { db } from "./fixtures";
import { buildRequest, type CallOptions, call } from "./http";
import { type Operator, registerBridge } from "./jobs";

export interface AccountJson {
  id: string;
  label: string;
  provider: string;
  status: string;
  monthly_limit_usd: number;
  used_usd: number;
  cost_per_hour_usd: number | null;
  has_credentials: boolean;
  pod_id: string | null;
  last_error: string | null;
  failure_type: string | null;
  fail_count: number;
  health: { bridges_online: number; last_heartbeat_at: string | null } | null;
  [key: string]: unknown;
}

export interface DeployJson {
  account: AccountJson;
  bridge?: { agent_id: number; env: { MEDIA_EDGE_URL: string; GPU_BRIDGE_TOKEN: string }; command: string };
  pod?: { id: string; desired_status: string | null; cost_per_hour_usd: number | null };
}

/** Calls the Worker's entry with some vars changed (a missing secret, another PUBLIC_URL). */
export async function callWithEnv(vars: Record<string, unknown>, path: string, options: CallOptions = {}) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(buildRequest(path, options), { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export function adminCall(op: Operator, path: string, options: CallOptions = {}): Promise<Response> {
  return call(path, { ...options, cookies: op.cookies });
}

export const RUNPOD_SETTINGS = { image: "ghcr.io/example/gpu-bridge:1", gpu_type_ids: ["NVIDIA L40S"] };

export async function createAccount(op: Operator, body: Record<string, unknown>): Promise<AccountJson> {
  const response = await adminCall(op, "/admin/accounts", { json: body });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as AccountJson;
}

export const selfHosted = (op: Operator, extra: Record<string, unknown> = {}) =>
  createAccount(op, { provider: "self-hosted", label: "GPU box", ...extra });

export const runpodAccount = (op: Operator, apiKey: string, extra: Record<string, unknown> = {}) =>
  createAccount(op, {
    provider: "runpod",
    label: "RunPod",
    credentials: { api_key: apiKey },
    runpod: RUNPOD_SETTINGS,
    ...extra,
  });

export async function readAccount(op: Operator, id: string): Promise<AccountJson> {
  const response = await adminCall(op, `/admin/accounts/${id}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as AccountJson;
}

export async function deploy(op: Operator, id: string): Promise<DeployJson> {
  const response = await adminCall(op, `/admin/accounts/${id}/deploy`, { method: "POST" });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as DeployJson;
}

export async function accountRow(id: string) {
  const [row] = await db().select().from(capacityAccounts).where(eq(capacityAccounts.id, id));
  return row;
}

/** The value of one `NAME='value'` assignment in a deploy command. */
export function fromCommand(command: string, name: string): string {
  const match = new RegExp(`${name}='([^']*)'`).exec(command);
  if (!match?.[1]) throw new Error(`no ${name} in ${command}`);
  return match[1];
}

export interface AccountBridge {
  agentId: string;
  /** GET /api/v1/jobs once: the call that counts as the bridge's heartbeat. */
  poll(): Promise<Response>;
}

/** A bridge started with a deploy's token: it registers (expecting 201), as `npm run bridge -- run` does first. */
export async function startBridge(token: string, capabilities = ["media.facts@1"]): Promise<AccountBridge> {
  const register = await registerBridge(token, capabilities);
  expect(register.status, await register.clone().text()).toBe(201);
  const { agent_id } = (await register.json()) as { agent_id: string };
  return {
    agentId: agent_id,
    poll: () => call("/api/v1/jobs?limit=1", { bearer: token, headers: { "x-agent-id": agent_id } }),
  };
}

/** Waits (briefly) for the account to reach `status`: promotions land after the response. */
export async function waitForStatus(id: string, status: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await accountRow(id);
    if (row?.status === status) return;
    if (Date.now() > deadline) throw new Error(`account ${id} stayed ${row?.status}, never ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
