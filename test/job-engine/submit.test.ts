/**
 * Submitting results: applied exactly once. A repeat with the same token
 * replays the answer and changes nothing; a result that does not match the
 * job type is refused while the lease stands; a holder that lost its lease
 * (it died after the work and before submitting, or gave the job up) cannot
 * apply its result over the agent that now holds or finished the job.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expect003 } from "../helpers/http";
import {
  boardObjectOf,
  boardOf,
  claimAt,
  dispatchFacts,
  expectSettled,
  FACTS,
  jobRecord,
  LEASE_MS,
  makeBridge,
  makeOperator,
  outcomeOf,
  taskEvents,
  taskRecord,
  waitForTask,
  waitUntilListed,
} from "../helpers/jobs";

describe("submitting a result", { timeout: 30_000 }, () => {
  it("a duplicate submit with the same token answers the same and is applied once", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);

    const first = await outcomeOf(await bridge.submit(job));
    expect(first).toMatchObject({ job_id: jobId, task_id: taskId, status: "completed", attempt: 1 });
    await waitForTask(op, taskId);
    const [jobBefore, taskBefore] = [await jobRecord(jobId), await taskRecord(taskId)];

    expect(await outcomeOf(await bridge.submit(job))).toEqual(first);
    // A repeat carrying a different result is still only a replay.
    expect(await outcomeOf(await bridge.submit(job, { ...FACTS, width: 1920 }))).toEqual(first);
    await boardOf(jobId).flush();

    expect(await jobRecord(jobId)).toEqual(jobBefore);
    expect(await taskRecord(taskId)).toEqual(taskBefore);
    const completed = (await taskEvents(op, taskId)).events.filter((event) => event.job_status === "completed");
    expect(completed).toHaveLength(1);
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a submit after another agent completed the job is refused with 409", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [first, second] = [await makeBridge(), await makeBridge()];
    const mine = await first.claim(jobId);
    await outcomeOf(await first.fail(mine, { error_code: "gpu_busy", message: "busy", retryable: true }));

    await waitUntilListed(second, jobId);
    const theirs = await second.claim(jobId);
    await outcomeOf(await second.submit(theirs));

    await expect003(await first.submit(mine, { ...FACTS, width: 1920 }), 409, "STATE_CONFLICT");
    await expectSettled(op, taskId, { status: "done", attempts: 2 });
  });

  it("refuses facts that do not match the job type with 422, and the job stays claimed", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);

    const cases = [
      { facts: { ...FACTS, bitrate: 128_000 }, location: [] },
      { facts: { ...FACTS, width: "320" }, location: ["width"] },
      { facts: { ...FACTS, duration_ms: 12.5 }, location: ["duration_ms"] },
      { facts: undefined, location: [] },
    ];
    for (const { facts, location } of cases) {
      const response = await bridge.call(`/api/v1/jobs/${jobId}/submit`, {
        lock_token: job.lock_token,
        result: { facts },
      });
      const body = await expect003(response, 422, "VALIDATION_FAILED");
      const errors = (body.details as { errors: { loc: unknown[] }[] }).errors;
      expect(errors.map((error) => error.loc)).toContainEqual(["body", "result", "facts", ...location]);
    }

    expect((await bridge.heartbeat(job)).status).toBe(200);
    await boardOf(jobId).flush(); // claims reach D1 after a short coalescing window
    expect((await jobRecord(jobId)).status).toBe("claimed");
    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a bridge dying between finishing the work and submitting: the lease lapses and another bridge completes", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [dead, alive] = [await makeBridge(), await makeBridge()];
    // The dead bridge claimed, did the work, and was never heard from again.
    const lost = await claimAt(dead, jobId, Date.now() - LEASE_MS - 60_000);

    await runDurableObjectAlarm(boardObjectOf(jobId));
    await waitUntilListed(alive, jobId);
    const job = await alive.claim(jobId);
    expect(job.attempt).toBe(2);
    // Come back to life while another holds the job: its token is no longer the lease.
    await expect003(await dead.submit(lost), 423, "LOCK_INVALID");
    const facts = { ...FACTS, duration_ms: 2001 };
    await outcomeOf(await alive.submit(job, facts));
    // ...and after the other finished it: the job is no longer claimable at all.
    await expect003(await dead.submit(lost), 409, "STATE_CONFLICT");

    const task = await expectSettled(op, taskId, { status: "done", facts, attempts: 2 });
    expect(task.jobs[0]?.agent_id).toBe(alive.agentId);
  });
});
