/**
 * Long-polling GET /api/v1/jobs: an idle bridge's poll is answered as soon as
 * work it can run appears, not when its wait runs out; with nothing to do it
 * answers [] (at once for wait=0). The elapsed-time bounds are correctness
 * bounds (the poll did not sit out its wait), not benchmarks.
 */
import { describe, expect, it } from "vitest";
import type { Job } from "../../worker/contracts/agent-protocol";
import { dispatchFacts, expectSettled, makeBridge, makeOperator, outcomeOf } from "../helpers/jobs";

describe("long-polling for jobs", { timeout: 30_000 }, () => {
  // First in this file: the board has no jobs yet.
  it("with nothing to do, wait=0 answers [] at once and wait=1 answers [] when the wait ends", async () => {
    const bridge = await makeBridge();
    let started = Date.now();
    expect(await bridge.list("wait=0")).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);

    started = Date.now();
    expect(await bridge.list("wait=1")).toEqual([]);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(5000);
  });

  it("a poll started before dispatch returns the job soon after it is dispatched", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge();

    const started = Date.now();
    const poll = bridge.call("/api/v1/jobs?wait=10&limit=100");
    const { taskId, jobId } = await dispatchFacts(op);
    const response = await poll;
    const elapsed = Date.now() - started;

    expect(response.status).toBe(200);
    const listed = (await response.json()) as Job[];
    expect(listed.map((job) => job.job_id)).toEqual([jobId]);
    expect(listed[0]).toMatchObject({ status: "pending", task_id: taskId, lock_token: null });
    expect(elapsed).toBeLessThan(5000);

    await outcomeOf(await bridge.submit(await bridge.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a waiting poll is also answered when a claimed job is put back for retry", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [holder, idle] = [await makeBridge(), await makeBridge()];
    const job = await holder.claim(jobId);

    const started = Date.now();
    const poll = idle.call("/api/v1/jobs?wait=10&limit=100");
    await outcomeOf(await holder.fail(job, { error_code: "gpu_busy", message: "busy", retryable: true }));
    const response = await poll;
    const elapsed = Date.now() - started;

    expect(((await response.json()) as Job[]).map((listed) => listed.job_id)).toEqual([jobId]);
    expect(elapsed).toBeLessThan(5000);

    await outcomeOf(await idle.submit(await idle.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 2 });
  });
});
