/**
 * Dispatch never loses a job and never boards one twice: the direct hand-off
 * to the board and the queue back each other up, the reconciler boards what
 * both missed, a queue consumer that dies half-way leaves only the unfinished
 * messages for redelivery, and the dead-letter consumer fails (and audits)
 * only jobs that never reached a board. Failures are injected through
 * dispatchTask's and consumeJobs' hand-off parameter.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RECONCILER_NAME } from "../../durable-objects/reconciler";
import { boardFor } from "../../worker/core/jobs/boards";
import { type HandOff, handOff, loadBoardJobs } from "../../worker/core/jobs/dispatch";
import { consumeDeadLetters, consumeJobs } from "../../worker/core/jobs/queue";
import type { BoardJob } from "../../worker/core/jobs/types";
import { db } from "../helpers/fixtures";
import {
  boardOf,
  deadLettersOf,
  dispatchVia,
  expectSettled,
  jobRecord,
  makeBridge,
  makeOperator,
  outcomeOf,
  unreachable,
  waitUntilListed,
} from "../helpers/jobs";

const noBoard: HandOff = { toBoard: unreachable, toQueue: handOff.toQueue };
const noQueue: HandOff = { toBoard: handOff.toBoard, toQueue: unreachable };
const nothing: HandOff = { toBoard: unreachable, toQueue: unreachable };

const message = (jobId: string, attempts = 1) => ({
  id: crypto.randomUUID(),
  timestamp: Date.now(),
  attempts,
  body: { job_id: jobId },
});

async function boardJob(jobId: string): Promise<BoardJob> {
  const {
    jobs: [job],
  } = await loadBoardJobs(db(), [jobId]);
  if (!job) throw new Error(`no job ${jobId}`);
  return job;
}

describe("dispatch hand-offs", { timeout: 30_000 }, () => {
  it("when the direct hand-off fails, the queue delivers the job to its board", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge();
    const { taskId, jobIds } = await dispatchVia(op, noBoard);
    const jobId = jobIds[0] as string;
    expect(await jobRecord(jobId)).toMatchObject({ status: "pending", boardedAt: null });

    await waitUntilListed(bridge, jobId);
    expect(await boardOf(jobId).has(jobId)).toBe(true);

    await outcomeOf(await bridge.submit(await bridge.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a task left to the queue (direct: false) whose send fails is handed to its board after all", async () => {
    const op = await makeOperator();
    const queuedOnly = await dispatchVia(op, handOff, { direct: false });
    const queuedId = queuedOnly.jobIds[0] as string;
    // The queue's batch has not been delivered yet: nothing went to the board directly.
    expect(await boardOf(queuedId).has(queuedId)).toBe(false);

    const { jobIds } = await dispatchVia(op, noQueue, { direct: false });
    const jobId = jobIds[0] as string;
    expect(await boardOf(jobId).has(jobId)).toBe(true);
  });

  it("when the queue send fails as well, the reconciler's sweep boards the job", async () => {
    const op = await makeOperator();
    const { taskId, jobIds } = await dispatchVia(op, nothing);
    const jobId = jobIds[0] as string;
    expect(await boardOf(jobId).has(jobId)).toBe(false);
    expect(await jobRecord(jobId)).toMatchObject({ status: "pending", boardedAt: null });

    // Within the grace period the sweep leaves it to the hand-offs still in flight.
    const early = await env.RECONCILER.getByName(RECONCILER_NAME).sweepNow(Date.now());
    expect(early.reboarded).not.toContain(jobId);
    const report = await env.RECONCILER.getByName(RECONCILER_NAME).sweepNow(Date.now() + 60_000);
    expect(report.reboarded).toContain(jobId);
    expect(report.failed).not.toContain(jobId);
    expect(await boardOf(jobId).has(jobId)).toBe(true);
    expect((await jobRecord(jobId)).boardedAt).not.toBeNull();

    const bridge = await makeBridge();
    await outcomeOf(await bridge.submit(await bridge.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a consumer dying half-way through a batch: only the failed board's messages are retried, and redelivery boards them once", async () => {
    const op = await makeOperator();
    const { taskId, jobIds } = await dispatchVia(op, nothing, { count: 2 });
    const [a, c] = jobIds as [string, string];
    // On another board (another job type): the one whose hand-off dies.
    const {
      jobIds: [b],
    } = await dispatchVia(op, nothing, { jobType: "make_thumbnail" });
    if (!b) throw new Error("no job");
    const added: Record<string, boolean[]> = { [a]: [], [b]: [], [c]: [] };
    const counting = (fail: string | null): Pick<HandOff, "toBoard"> => ({
      async toBoard(env, jobs) {
        if (jobs.some((job) => job.id === fail)) throw new Error("injected: consumer died here");
        const result = await handOff.toBoard(env, jobs);
        for (const [i, job] of jobs.entries()) added[job.id]?.push(result.added[i] ?? false);
        return result;
      },
    });

    const batch = createMessageBatch("media-edge-jobs", [message(a), message(b), message(c)]);
    await consumeJobs(batch, env, counting(b));
    const result = await getQueueResult(batch, createExecutionContext());
    const [ma, mb, mc] = batch.messages as [Message, Message, Message];
    expect(result.ackAll).toBe(false);
    expect(result.explicitAcks.sort()).toEqual([ma.id, mc.id].sort());
    expect(result.retryMessages.map((retried) => retried.msgId)).toEqual([mb.id]);
    expect(await boardFor(env, "make_thumbnail", b).has(b)).toBe(false);
    expect((await jobRecord(a)).boardedAt).not.toBeNull();
    expect((await jobRecord(b)).boardedAt).toBeNull();
    expect((await jobRecord(c)).boardedAt).not.toBeNull();

    // The retried message comes back, and then the whole batch is delivered again, as queues may do.
    const retry = createMessageBatch("media-edge-jobs", [message(b, 2)]);
    await consumeJobs(retry, env, counting(null));
    expect((await getQueueResult(retry, createExecutionContext())).explicitAcks).toEqual([retry.messages[0]?.id]);
    const again = createMessageBatch("media-edge-jobs", [message(a, 2), message(b, 3), message(c, 2)]);
    await consumeJobs(again, env, counting(null));
    expect((await getQueueResult(again, createExecutionContext())).explicitAcks).toHaveLength(3);

    // Each job was added to its board exactly once; a further enqueue of a held job is a no-op.
    for (const jobId of [a, b, c]) {
      expect(added[jobId]).toEqual([true]);
      const job = await boardJob(jobId);
      expect(await boardFor(env, job.jobType, jobId).enqueue([job])).toEqual({ added: [false] });
    }

    const bridge = await makeBridge();
    for (const jobId of [a, c]) await outcomeOf(await bridge.submit(await bridge.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a message whose dispatcher saw the board accept the job is only recorded: no board call", async () => {
    const op = await makeOperator();
    const { jobIds } = await dispatchVia(op, noQueue);
    const jobId = jobIds[0] as string;
    expect(await boardOf(jobId).has(jobId)).toBe(true);
    expect((await jobRecord(jobId)).boardedAt).toBeNull();
    const batch = createMessageBatch("media-edge-jobs", [
      { ...message(jobId), body: { job_id: jobId, boarded: true } },
    ]);
    await consumeJobs(batch, env, { toBoard: unreachable });
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual([batch.messages[0]?.id]);
    expect((await jobRecord(jobId)).boardedAt).not.toBeNull();
  });

  it("the dead-letter consumer fails a job that never reached a board, audited, and leaves a boarded job alone", async () => {
    const op = await makeOperator();
    const stranded = await dispatchVia(op, nothing);
    // Held by its board, though no queue message ever confirmed it (boarded_at is still null in D1).
    const boarded = await dispatchVia(op, noQueue);
    const [lost, held] = [stranded.jobIds[0] as string, boarded.jobIds[0] as string];
    expect(await boardOf(held).has(held)).toBe(true);
    const heldBefore = await jobRecord(held);

    const messages = [message(lost, 6), message(held, 6)];
    const batch = createMessageBatch("media-edge-jobs-dlq", messages);
    await consumeDeadLetters(batch, env);
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks].sort()).toEqual(messages.map((m) => m.id).sort());

    expect(await jobRecord(held)).toEqual(heldBefore);
    expect(await deadLettersOf(held)).toHaveLength(0);
    const failed = await expectSettled(op, stranded.taskId, {
      status: "failed",
      error: "dispatch_failed",
      deadLetters: 1,
      attempts: 0,
    });
    expect(failed.jobs[0]?.boarded_at).toBeNull();

    // A late delivery of the dead job is dropped, not boarded.
    const late = createMessageBatch("media-edge-jobs", [message(lost, 7)]);
    await consumeJobs(late, env);
    expect((await getQueueResult(late, createExecutionContext())).explicitAcks).toHaveLength(1);
    expect(await boardOf(lost).has(lost)).toBe(false);

    const bridge = await makeBridge();
    await outcomeOf(await bridge.submit(await bridge.claim(held)));
    await expectSettled(op, boarded.taskId, { status: "done", attempts: 1 });
  });
});
