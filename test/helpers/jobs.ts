/**
 * Job-engine test helpers: an operator who dispatches, bridges that register
 * and hold leases, direct handles on a job's JobBoard (whose RPC methods take
 * an optional `now`, so a lease can lapse without sleeping), the D1 record,
 * and waiting on a task's own events instead of sleeping.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import type { TaskEvent, TaskState } from "../../durable-objects/task-room";
import { configFrom } from "../../worker/config";
import type { Fail, Heartbeat, Job, JobOutcome } from "../../worker/contracts/agent-protocol";
import type { MediaFacts } from "../../worker/contracts/job-types";
import { boardFor, boardName } from "../../worker/core/jobs/boards";
import { dispatchTask, type HandOff } from "../../worker/core/jobs/dispatch";
import type { AgentRef } from "../../worker/core/jobs/types";
import { auditEvents, jobs, tasks } from "../../worker/db/schema";
import { COOKIES } from "../../worker/http/cookies";
import { db, makeAdminSession, makeAgent } from "./fixtures";
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

/** The lease a claim or heartbeat grants, in ms. */
export const LEASE_MS = configFrom(env).JOB_LEASE_S * 1000;

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

export const unreachable = () => Promise.reject(new Error("injected: hand-off unavailable"));

/**
 * Dispatches a task of `count` extract_facts jobs through dispatchTask itself,
 * with its two hand-offs (board, queue) replaced to inject failures.
 */
export async function dispatchVia(
  op: Operator,
  via: HandOff,
  options: {
    count?: number;
    startDeadlineAt?: Date;
    jobType?: "extract_facts" | "make_thumbnail";
    direct?: boolean;
  } = {},
): Promise<{ taskId: string; jobIds: string[] }> {
  const source = await uploadInput(op);
  const job = { jobType: options.jobType ?? "extract_facts", params: {}, inputs: { source } };
  return dispatchTask(
    env,
    {
      ownerPrincipalId: op.adminId,
      surface: "admin",
      jobs: Array(options.count ?? 1).fill(job),
      startDeadlineAt: options.startDeadlineAt ?? null,
      ...(options.direct === undefined ? {} : { direct: options.direct }),
    },
    via,
  );
}

/** What a holder needs to speak for a job: its id and the lock token of its claim. */
export type Held = Pick<Job, "job_id" | "lock_token">;

export interface Bridge {
  token: string;
  agentId: string;
  principalId: number;
  /** How boards record this bridge (for calling a board directly). */
  ref: AgentRef;
  call(path: string, json?: unknown, method?: string): Promise<Response>;
  /** GET /api/v1/jobs with this query; the job ids listed. */
  list(query?: string): Promise<string[]>;
  claim(jobId: string): Promise<Job>;
  heartbeat(job: Held, body?: Omit<Heartbeat, "lock_token">): Promise<Response>;
  submit(job: Held, facts?: unknown): Promise<Response>;
  fail(job: Held, error: Omit<Fail, "lock_token">): Promise<Response>;
}

export async function registerBridge(token: string, capabilities: string[]): Promise<Response> {
  return call("/api/v1/agents/register", {
    bearer: token,
    json: { agent_name: "test-bridge", agent_version: "1.0.0", platform: "test", capabilities, max_parallel_jobs: 4 },
  });
}

/** An agent principal with a registered bridge process declaring `capabilities`. */
export async function makeBridge(capabilities: string[] = ["media.facts@1"]): Promise<Bridge> {
  const agent = await makeAgent();
  const register = await registerBridge(agent.token, capabilities);
  expect(register.status, await register.clone().text()).toBe(201);
  const { agent_id } = (await register.json()) as { agent_id: string };
  const bridge: Bridge = {
    token: agent.token,
    agentId: agent_id,
    principalId: agent.agentId,
    ref: { agentId: agent_id, principalId: agent.agentId, capacityAccountId: "local", maxParallel: 4 },
    call: (path, json, method) =>
      call(path, {
        bearer: agent.token,
        headers: { "x-agent-id": agent_id },
        ...(json === undefined ? {} : { json }),
        ...(method ? { method } : {}),
      }),
    async list(query = "limit=100") {
      const response = await bridge.call(`/api/v1/jobs?${query}`);
      expect(response.status, await response.clone().text()).toBe(200);
      return ((await response.json()) as Job[]).map((job) => job.job_id);
    },
    async claim(jobId) {
      const response = await bridge.call(`/api/v1/jobs/${jobId}/claim`, {});
      expect(response.status, await response.clone().text()).toBe(200);
      return (await response.json()) as Job;
    },
    heartbeat: (job, body = {}) =>
      bridge.call(`/api/v1/jobs/${job.job_id}/heartbeat`, { lock_token: job.lock_token, ...body }),
    submit: (job, facts = FACTS) =>
      bridge.call(`/api/v1/jobs/${job.job_id}/submit`, {
        lock_token: job.lock_token,
        result: { facts, warnings: [], metrics: {} },
      }),
    fail: (job, error) => bridge.call(`/api/v1/jobs/${job.job_id}/fail`, { lock_token: job.lock_token, ...error }),
  };
  return bridge;
}

/**
 * Long-polls GET /api/v1/jobs until `jobId` is listed to this bridge (queue
 * deliveries and backoffs end on their own schedule; each poll returns as soon
 * as the board has work).
 */
export async function waitUntilListed(bridge: Bridge, jobId: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await bridge.list("wait=2&limit=100")).includes(jobId)) {
    if (Date.now() > deadline) throw new Error(`job ${jobId} was never listed to bridge ${bridge.agentId}`);
  }
}

// ── the JobBoard, directly ────────────────────────────────────────────────

/** The RPC stub of the board holding an extract_facts job. */
export const boardOf = (jobId: string) => boardFor(env, "extract_facts", jobId);

/** The same board as a plain stub, for runDurableObjectAlarm and evictDurableObject. */
export const boardObjectOf = (jobId: string) => env.JOB_BOARD.getByName(boardName("extract_facts", jobId));

/** Claims through the board with the board's clock set to `now` (a lease that ends at now + LEASE_MS). */
export async function claimAt(bridge: Bridge, jobId: string, now: number): Promise<Job> {
  const claimed = await boardOf(jobId).claim(jobId, bridge.ref, now);
  if (!claimed.ok) throw new Error(`claim of ${jobId} refused: ${claimed.message}`);
  return claimed.job;
}

/** The fencing counter in a lock token (`<fence>.<random>`). */
export function fenceOf(token: string | null): number {
  return Number((token ?? "").split(".")[0]);
}

// ── the record: D1 and the TaskRoom ───────────────────────────────────────

export async function jobRecord(jobId: string) {
  const [row] = await db().select().from(jobs).where(eq(jobs.id, jobId));
  if (!row) throw new Error(`no D1 row for job ${jobId}`);
  return row;
}

export async function taskRecord(taskId: string) {
  const [row] = await db().select().from(tasks).where(eq(tasks.id, taskId));
  if (!row) throw new Error(`no D1 row for task ${taskId}`);
  return row;
}

/** The job.dead_letter audit rows written for a job. */
export async function deadLettersOf(jobId: string) {
  const rows = await db().select().from(auditEvents).where(eq(auditEvents.target, jobId));
  return rows.filter((row) => row.action === "job.dead_letter");
}

export interface TaskView {
  task_id: string;
  status: string;
  progress: number;
  stage: string | null;
  error: { code: string; message: string } | null;
  updated_at: string;
  finished_at: string | null;
  jobs: {
    job_id: string;
    status: string;
    attempts: number;
    boarded_at: string | null;
    agent_id: string | null;
    result: unknown;
    error: { code: string; message: string } | null;
  }[];
}

export async function readTask(op: Operator, taskId: string): Promise<TaskView> {
  const response = await call(`/admin/tasks/${taskId}`, { cookies: op.cookies });
  expect(response.status).toBe(200);
  return (await response.json()) as TaskView;
}

/** The TaskRoom's events after `after` (JSON, no waiting). */
export async function taskEvents(
  op: Operator,
  taskId: string,
  after = 0,
): Promise<{ state: TaskState; events: TaskEvent[] }> {
  const response = await call(`/admin/tasks/${taskId}/events?after=${after}`, { cookies: op.cookies });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as { state: TaskState; events: TaskEvent[] };
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

export type Settled =
  | { status: "done"; facts?: MediaFacts; attempts?: number }
  | { status: "failed"; error: string; deadLetters: number; attempts?: number };

/**
 * How every job-engine test ends: the task finished, and each of its jobs'
 * results applied exactly once — the D1 job rows and task row agree, the
 * TaskRoom recorded one terminal event per job, and the audit log holds the
 * expected dead letters (none for a completed task). A failed task is expected
 * to have all of its jobs failed with the same error code.
 */
export async function expectSettled(op: Operator, taskId: string, expected: Settled): Promise<TaskView> {
  const task = await waitForTask(op, taskId);
  const summary = JSON.stringify(task);
  expect(task.status, summary).toBe(expected.status);
  expect(task.finished_at, summary).not.toBeNull();
  const { state, events } = await taskEvents(op, taskId);
  expect(state.status).toBe(task.status);
  for (const job of task.jobs) {
    if (expected.status === "done") {
      expect(task.error, summary).toBeNull();
      expect(job.status, summary).toBe("completed");
      expect(job.error, summary).toBeNull();
      expect(job.result).toEqual({ facts: expected.facts ?? FACTS, derived_manifest: [], warnings: [], metrics: {} });
    } else {
      expect(task.error, summary).toEqual({ code: expected.error, message: expect.stringMatching(/\w/) });
      expect(job.status, summary).toBe("failed");
      expect(job.error, summary).toEqual({ code: expected.error, message: expect.stringMatching(/\w/) });
      expect(job.result, summary).toBeNull();
    }
    if (expected.attempts !== undefined) expect(job.attempts, summary).toBe(expected.attempts);
    const terminal = events.filter(
      (event) =>
        event.kind === "status" &&
        event.job_id === job.job_id &&
        (event.job_status === "completed" || event.job_status === "failed"),
    );
    expect(
      terminal.map((event) => event.job_status),
      JSON.stringify(events),
    ).toEqual([job.status]);
    const deadLetters = await deadLettersOf(job.job_id);
    expect(deadLetters, summary).toHaveLength(expected.status === "failed" ? expected.deadLetters : 0);
  }
  return task;
}
