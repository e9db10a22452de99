/**
 * Contract 000 generation helpers: a caller with an API key, image bytes and
 * data URIs, live simulated bridges (registered and heard by their board, so
 * POST /generate finds capacity), and a simulated run of a generation's job:
 * claim, heartbeat, upload the result and its preview, submit.
 */
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import type { Job } from "../../worker/contracts/agent-protocol";
import { jobs } from "../../worker/db/schema";
import { db, makeApiKey, makeUser } from "./fixtures";
import { type CallOptions, call } from "./http";
import { type Bridge, makeBridge, waitUntilListed } from "./jobs";
import { uploadJobOutput } from "./uploads";

export interface Client {
  principalId: number;
  key: string;
  headers: Record<string, string>;
  generate(body: unknown, headers?: Record<string, string>): Promise<Response>;
  get(path: string, options?: CallOptions): Promise<Response>;
  delete(path: string): Promise<Response>;
}

/** A user with an API key (a new one, or `as`'s), calling with X-API-Key. */
export async function makeClient(as?: { principalId: number; key: string }): Promise<Client> {
  const principalId = as?.principalId ?? (await makeUser()).id;
  const key = as?.key ?? (await makeApiKey(principalId)).secret;
  const headers = { "x-api-key": key };
  return {
    principalId,
    key,
    headers,
    generate: (body, extra = {}) => call("/generate", { headers: { ...headers, ...extra }, json: body }),
    get: (path, options = {}) => call(path, { ...options, headers: { ...headers, ...options.headers } }),
    delete: (path) => call(path, { method: "DELETE", headers }),
  };
}

/** `size` bytes starting with a PNG (or JPEG) signature: enough for the Worker, which only checks the type. */
export function imageBytes(size = 64, type: "image/png" | "image/jpeg" = "image/png"): Uint8Array {
  const bytes = new Uint8Array(size).fill(7);
  bytes.set(type === "image/png" ? [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] : [0xff, 0xd8, 0xff, 0xe0]);
  return bytes;
}

export function dataUri(bytes: Uint8Array, type = "image/png"): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:${type};base64,${btoa(binary)}`;
}

export const IMAGE = { model: "flux", type: "image", mode: "txt2img", prompt: "a lighthouse", width: 256, height: 256 };
export const VIDEO = {
  model: "phr00t",
  type: "video",
  mode: "t2v",
  prompt: "waves",
  width: 256,
  height: 256,
  num_frames: 9,
  fps: 8,
};

export const CAPABILITY = { image: "image.generate@1", video: "video.generate@1" } as const;

/** A bridge for generations that has polled its board, so the board counts it alive. */
export async function liveBridge(kind: "image" | "video" = "image"): Promise<Bridge> {
  const bridge = await makeBridge([CAPABILITY[kind]]);
  await bridge.list();
  return bridge;
}

export async function jobOf(taskId: string): Promise<string> {
  const [row] = await db().select({ id: jobs.id }).from(jobs).where(eq(jobs.taskId, taskId));
  if (!row) throw new Error(`no job for task ${taskId}`);
  return row.id;
}

/** POST /generate, expecting 200; the task id. */
export async function started(client: Client, body: unknown = IMAGE): Promise<string> {
  const response = await client.generate(body);
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { task_id: string }).task_id;
}

export async function claimGeneration(bridge: Bridge, taskId: string): Promise<Job> {
  const jobId = await jobOf(taskId);
  await waitUntilListed(bridge, jobId);
  return bridge.claim(jobId);
}

/** The facts a bridge reports for a generate_image job of these params. */
export function imageFacts(params: Record<string, unknown>) {
  return {
    provider: "local",
    model: "test",
    is_model: false,
    seed: params.seed,
    width: params.width,
    height: params.height,
  };
}

/** Uploads a result and a preview for a claimed image job and submits it; the result's bytes. */
export async function finishImage(bridge: Bridge, job: Job): Promise<Uint8Array> {
  const result = imageBytes(300);
  const image = (await uploadJobOutput(bridge, job, "image", "image/png", result)).artifact_id;
  const preview = (await uploadJobOutput(bridge, job, "preview", "image/jpeg", imageBytes(100, "image/jpeg")))
    .artifact_id;
  const submit = await bridge.call(`/api/v1/jobs/${job.job_id}/submit`, {
    lock_token: job.lock_token,
    result: {
      facts: imageFacts(job.params),
      derived_manifest: [
        { kind: "image", ref: image },
        { kind: "preview", ref: preview },
      ],
      warnings: [],
      metrics: {},
    },
  });
  expect(submit.status, await submit.clone().text()).toBe(200);
  return result;
}

/** A generation from POST to done through a simulated bridge; its task id and result bytes. */
export async function doneImage(client: Client, bridge: Bridge, body: unknown = IMAGE) {
  const taskId = await started(client, body);
  const job = await claimGeneration(bridge, taskId);
  const bytes = await finishImage(bridge, job);
  await waitForStatus(client, taskId, "done");
  return { taskId, bytes };
}

export interface StatusBody {
  task_id: string;
  status: string;
  progress: number;
  stage: string | null;
  stage_detail: string | null;
  error_msg: string | null;
  error_code: string | null;
  result_url: string | null;
  preview_url: string | null;
  model: string;
  label: string;
  seed: number;
  created_at: string;
  updated_at: string;
}

export async function readStatus(client: Client, taskId: string): Promise<StatusBody> {
  const response = await client.get(`/status/${taskId}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as StatusBody;
}

/** Polls /status (each board projection lands within milliseconds) until it reports `status`. */
export async function waitForStatus(client: Client, taskId: string, status: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await readStatus(client, taskId);
    if (body.status === status) return body;
    if (Date.now() > deadline) throw new Error(`task ${taskId} is ${JSON.stringify(body)}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
