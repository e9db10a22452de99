/**
 * Start deadlines: a task may require its jobs to start within a time. A job
 * still unclaimed past it fails as not_started (and its task with it, audited
 * as a dead letter); a job that started in time is never failed for it. The
 * board's clock (`now`) stands in for waiting, except where the board's own
 * alarm is what is tested.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { handOff } from "../../worker/core/jobs/dispatch";
import { expect003 } from "../helpers/http";
import {
  boardObjectOf,
  boardOf,
  claimAt,
  dispatchFacts,
  dispatchVia,
  expectSettled,
  jobRecord,
  LEASE_MS,
  makeBridge,
  makeOperator,
  outcomeOf,
  taskRecord,
  unreachable,
} from "../helpers/jobs";

describe("start deadlines", { timeout: 30_000 }, () => {
  it("a claim arriving after the deadline finds the job failed as not_started", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op, { startDeadlineSeconds: 60 });
    const bridge = await makeBridge();
    const deadline = (await taskRecord(taskId)).startDeadlineAt?.getTime() ?? 0;
    expect(deadline).toBeGreaterThan(Date.now());

    const late = await boardOf(jobId).claim(jobId, bridge.ref, deadline + 1000);
    expect(late).toMatchObject({ ok: false, reason: "state_conflict" });
    await expect003(await bridge.call(`/api/v1/jobs/${jobId}/claim`, {}), 409, "STATE_CONFLICT");
    expect(await bridge.list()).not.toContain(jobId);

    const task = await expectSettled(op, taskId, {
      status: "failed",
      error: "not_started",
      deadLetters: 1,
      attempts: 0,
    });
    expect(task.error?.message).toMatch(/start deadline/);
  });

  it("the board's alarm fails an unclaimed job when its deadline passes", async () => {
    const op = await makeOperator();
    // Straight to the board, no queue message: nothing but the board's alarm will look at this job again.
    const startDeadlineAt = new Date(Date.now() + 1000);
    const { taskId, jobIds } = await dispatchVia(
      op,
      { toBoard: handOff.toBoard, toQueue: unreachable },
      { startDeadlineAt },
    );
    const jobId = jobIds[0] as string;
    const board = boardObjectOf(jobId);
    const alarm = await runInDurableObject(board, (_board, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm).toBeLessThanOrEqual(startDeadlineAt.getTime());
    // Run early, the alarm finds nothing due and re-arms itself.
    await runDurableObjectAlarm(board);
    expect((await jobRecord(jobId)).status).toBe("pending");
    expect(await runInDurableObject(board, (_board, state) => state.storage.getAlarm())).not.toBeNull();

    // Waits on the task's events: the alarm fires at the deadline on its own.
    await expectSettled(op, taskId, { status: "failed", error: "not_started", deadLetters: 1, attempts: 0 });
  });

  it("a job claimed before its deadline is unaffected by it, even when its lease lapses after the deadline", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op, { startDeadlineSeconds: 60 });
    const [first, second] = [await makeBridge(), await makeBridge()];
    const deadline = (await taskRecord(taskId)).startDeadlineAt?.getTime() ?? 0;
    const board = boardOf(jobId);

    const job = await first.claim(jobId);
    // Past the deadline, the lease still holds.
    const beat = await board.heartbeat(jobId, job.lock_token ?? "", deadline + 5000);
    expect(beat).toMatchObject({ ok: true });
    // Then it lapses: the job goes back to pending, as any started job does, and another bridge finishes it.
    const lapsedAt = deadline + 5000 + LEASE_MS + 1000;
    expect(await board.heartbeat(jobId, job.lock_token ?? "", lapsedAt)).toMatchObject({ reason: "lock_invalid" });
    const again = await claimAt(second, jobId, lapsedAt + 1000);
    expect(again.attempt).toBe(2);
    await outcomeOf(await second.submit(again));

    await expectSettled(op, taskId, { status: "done", attempts: 2 });
  });
});
