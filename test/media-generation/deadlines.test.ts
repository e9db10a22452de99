/**
 * Contract 000's deadlines, judged when /status is read, without sleeping:
 * the records they read (the job's queue time in D1, the agents a board saw,
 * the TaskRoom's last progress) are moved into the past instead. Each failure
 * is the job's, made on its board: D1 and the room say failed, the bridge
 * holding it is refused at its next heartbeat, and a late result is never
 * applied.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { boardFor, boardName, roomFor } from "../../worker/core/jobs/boards";
import { jobs, tasks } from "../../worker/db/schema";
import { ago, db } from "../helpers/fixtures";
import {
  type Client,
  claimGeneration,
  finishImage,
  jobOf,
  liveBridge,
  makeClient,
  readStatus,
  started,
  VIDEO,
} from "../helpers/generation";
import { expect000, expect003 } from "../helpers/http";
import { deadLettersOf, jobRecord, taskRecord } from "../helpers/jobs";

const board = (jobId: string) => env.JOB_BOARD.getByName(boardName("generate_image", jobId));

/** The job was queued `seconds` ago. */
async function queuedAgo(taskId: string, seconds: number) {
  await db()
    .update(jobs)
    .set({ updatedAt: ago(seconds) })
    .where(eq(jobs.taskId, taskId));
}

/** Every agent the job's board knows was last heard from long ago: none is alive. */
async function bridgesGone(jobId: string) {
  await runInDurableObject(board(jobId), (_board, state) => {
    state.storage.sql.exec("UPDATE agents SET last_seen = ?", Date.now() - 3600_000);
  });
}

/** The running job last made progress `seconds` ago. */
async function stillFor(taskId: string, seconds: number) {
  await runInDurableObject(env.TASK_ROOM.getByName(taskId), (_room, state) => {
    state.storage.sql.exec("UPDATE jobs SET progressed_at = ?", Date.now() - seconds * 1000);
  });
}

async function expectFailed(client: Client, taskId: string, code: string) {
  const status = await readStatus(client, taskId);
  expect(status).toMatchObject({ status: "failed", error_code: code, stage_detail: code, result_url: null });
  expect(status.error_msg).toMatch(/\w/);
  const jobId = await jobOf(taskId);
  expect(await jobRecord(jobId)).toMatchObject({ status: "failed", errorCode: code });
  expect(await taskRecord(taskId)).toMatchObject({ status: "failed", errorCode: code });
  // Read again: the verdict stays.
  expect((await readStatus(client, taskId)).status).toBe("failed");
  return jobId;
}

describe("the start deadline", () => {
  it("fails a task no live capable bridge started within 120 s as worker_start_timeout", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    const taskId = await started(client);
    const jobId = await jobOf(taskId);
    await queuedAgo(taskId, 119);
    await bridgesGone(jobId);
    expect((await readStatus(client, taskId)).status).toBe("pending");

    await queuedAgo(taskId, 121);
    // Past the second this isolate remembers the boards' last "a bridge is alive" for.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expectFailed(client, taskId, "worker_start_timeout");
    expect(await deadLettersOf(jobId)).toHaveLength(1);
    // A bridge coming back cannot start it any more.
    await expect003(await bridge.call(`/api/v1/jobs/${jobId}/claim`, {}), 409, "STATE_CONFLICT");
  });

  it("lets a task queued behind busy live bridges wait, up to the type's limit (10 min for images)", async () => {
    const client = await makeClient();
    await liveBridge("image");
    const taskId = await started(client);
    await queuedAgo(taskId, 300);
    expect((await readStatus(client, taskId)).status).toBe("pending");
    await queuedAgo(taskId, 601);
    await expectFailed(client, taskId, "worker_start_timeout");
    expect((await readStatus(client, taskId)).error_msg).toMatch(/busy/);
  });

  it("names the board's own start deadline (a first attempt never claimed) worker_start_timeout too", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    const taskId = await started(client);
    const jobId = await jobOf(taskId);
    const deadline = (await taskRecord(taskId)).startDeadlineAt?.getTime() ?? 0;
    // The board's clock past the deadline: it fails the job as not_started on its own.
    const late = await boardFor(env, "generate_image", jobId).claim(jobId, bridge.ref, deadline + 1000);
    expect(late).toMatchObject({ ok: false, reason: "state_conflict" });
    await boardFor(env, "generate_image", jobId).flush();
    const status = await readStatus(client, taskId);
    expect(status).toMatchObject({ status: "failed", error_code: "worker_start_timeout" });
    expect((await jobRecord(jobId)).errorCode).toBe("not_started");
  });
});

describe("the stall deadline", () => {
  it("fails a started task without progress for 300 s as processing_stall_timeout and refuses its late result", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    const taskId = await started(client);
    const job = await claimGeneration(bridge, taskId);
    expect((await bridge.heartbeat(job, { progress: 0.4, stage: "rendering" })).status).toBe(200);
    await stillFor(taskId, 299);
    expect((await readStatus(client, taskId)).status).toBe("processing");

    await stillFor(taskId, 301);
    const jobId = await expectFailed(client, taskId, "processing_stall_timeout");
    expect(jobId).toBe(job.job_id);
    // The holder is stopped at its next heartbeat, and what it finishes anyway is refused.
    await expect003(await bridge.heartbeat(job, { progress: 0.5 }), 409, "STATE_CONFLICT");
    await expect(finishImage(bridge, job)).rejects.toThrow();
    expect(await jobRecord(jobId)).toMatchObject({ status: "failed", result: null });
    await expect000(await client.get(`/results/${taskId}`), 404, "result_not_ready");
  });

  it("counts only heartbeats that move: repeating the same progress keeps the lease, not the task, alive", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    const taskId = await started(client);
    const job = await claimGeneration(bridge, taskId);
    const room = roomFor(env, taskId);
    expect((await bridge.heartbeat(job, { progress: 0.4, stage: "rendering", message: "a" })).status).toBe(200);
    const moved = (await room.state(taskId)).progressed_at;
    expect(moved).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await bridge.heartbeat(job, { progress: 0.4, stage: "rendering", message: "a" })).status).toBe(200);
    expect((await room.state(taskId)).progressed_at).toBe(moved);
    expect((await bridge.heartbeat(job, { progress: 0.5, stage: "rendering", message: "a" })).status).toBe(200);
    expect((await room.state(taskId)).progressed_at).toBeGreaterThan(moved ?? 0);
  });

  it("judges a running task by its progress, not its age: an hour-old video still moving is left alone", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("video");
    const taskId = await started(client, VIDEO);
    const job = await claimGeneration(bridge, taskId);
    await db()
      .update(tasks)
      .set({ createdAt: ago(3600) })
      .where(eq(tasks.id, taskId));
    await queuedAgo(taskId, 3600);
    await stillFor(taskId, 3600);
    expect((await bridge.heartbeat(job, { progress: 0.2, stage: "rendering" })).status).toBe(200);
    expect(await readStatus(client, taskId)).toMatchObject({ status: "processing", progress: 20 });
  });
});
