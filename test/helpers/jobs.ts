/**
 * Job-engine test helpers: an operator who dispatches, bridges that register
 * and hold leases, and waiting on a task's own events instead of sleeping.
 */
import { expect } from "vitest";
import type { Job, JobOutcome } from "../../worker/contracts/agent-protocol";
import type { MediaFacts } from "../../worker/contracts/job-types";
import { COOKIES } from "../../worker/http/cookies";
import { makeAdminSession, makeAgent } from "./fixtures";
import { call } from "./http";

export const FACTS: MediaFacts = {
  duration_ms: 2000,
  media_format: "mov,mp4,m4a,3gp,3g2,mj2",
  video_codec: "h264",
  audio_codec: "aac",
  width: 320,
  height: 240,
  fps: 25,
};

export interface Operator {
  cookies: Record<string, string>;
  adminId: number;
}

export async function makeOperator(): Promise<Operator> {
  const session = await makeAdminSession();
  return { cookies: { [COOKIES.adminSession]: session.secret }, adminId: session.adminId };
}

export async function uploadInput(op: Operator, bytes = new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112])) {
  const response = await call("/admin/artifacts", {
    method: "POST",
    cookies: op.cookies,
    headers: { "content-type": "video/mp4", "content-length": String(bytes.byteLength) },
    body: bytes,
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { artifact_id: string }).artifact_id;
}

export interface DispatchOptions {
  startDeadlineSeconds?: number;
}

/** Dispatches one extract_facts job and returns its ids. */
export async function dispatchFacts(op: Operator, options: DispatchOptions = {}) {
  const source = await uploadInput(op);
  const response = await call("/admin/jobs", {
    cookies: op.cookies,
    json: {
      job_type: "extract_facts",
      inputs: { source },
      ...(options.startDeadlineSeconds ? { start_deadline_seconds: options.startDeadlineSeconds } : {}),
    },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  const body = (await response.json()) as { task_id: string; job_ids: string[] };
  return { taskId: body.task_id, jobId: body.job_ids[0] as string };
}

export interface Bridge {
  token: string;
  agentId: string;
  principalId: number;
  call(path: string, json?: unknown, method?: string): Promise<Response>;
  claim(jobId: string): Promise<Job>;
  submit(job: Pick<Job, "job_id" | "lock_token">, facts?: MediaFacts): Promise<Response>;
}

/** An agent principal with a registered bridge process declaring `capabilities`. */
export async function makeBridge(capabilities: string[] = ["media.facts@1"]): Promise<Bridge> {
  const agent = await makeAgent();
  const register = await call("/api/v1/agents/register", {
    bearer: agent.token,
    json: { agent_name: "test-bridge", agent_version: "1.0.0", platform: "test", capabilities, max_parallel_jobs: 4 },
  });
  expect(register.status, await register.clone().text()).toBe(201);
  const { agent_id } = (await register.json()) as { agent_id: string };
  const bridge: Bridge = {
    token: agent.token,
    agentId: agent_id,
    principalId: agent.agentId,
    call: (path, json, method) =>
      call(path, {
        bearer: agent.token,
        headers: { "x-agent-id": agent_id },
        ...(json === undefined ? {} : { json }),
        ...(method ? { method } : {}),
      }),
    async claim(jobId) {
      const response = await bridge.call(`/api/v1/jobs/${jobId}/claim`, {});
      expect(response.status, await response.clone().text()).toBe(200);
      return (await response.json()) as Job;
    },
    submit: (job, facts = FACTS) =>
      bridge.call(`/api/v1/jobs/${job.job_id}/submit`, {
        lock_token: job.lock_token,
        result: { facts, warnings: [], metrics: {} },
      }),
  };
  return bridge;
}

export interface TaskView {
  task_id: string;
  status: string;
  stage: string | null;
  error: { code: string; message: string } | null;
  jobs: { job_id: string; status: string; attempts: number; result: unknown; error: { code: string } | null }[];
}

export async function readTask(op: Operator, taskId: string): Promise<TaskView> {
  const response = await call(`/admin/tasks/${taskId}`, { cookies: op.cookies });
  expect(response.status).toBe(200);
  return (await response.json()) as TaskView;
}

/**
 * Waits on the task's own event stream until its D1 record satisfies `done`:
 * each long-poll returns when the TaskRoom records something new.
 */
export async function waitForTask(
  op: Operator,
  taskId: string,
  done: (task: TaskView) => boolean = (task) => task.status === "done" || task.status === "failed",
  timeoutMs = 20_000,
): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs;
  let after = 0;
  for (;;) {
    const task = await readTask(op, taskId);
    if (done(task)) return task;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task.status}: ${JSON.stringify(task)}`);
    const response = await call(`/admin/tasks/${taskId}/events?after=${after}&wait=2`, { cookies: op.cookies });
    const body = (await response.json()) as { state: { last_seq: number } };
    after = body.state.last_seq;
  }
}

export async function outcomeOf(response: Response): Promise<JobOutcome> {
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as JobOutcome;
}
