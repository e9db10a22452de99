/**
 * Leases: heartbeats extend them, only the current lock token speaks for a
 * job, a lapsed lease puts the job back (and, after the last attempt, fails it
 * as a dead letter), and `fail` retries or gives up as the holder asks.
 * Leases lapse without sleeping: a claim made with the board's clock in the
 * past is already expired, and the board's own alarm (runDurableObjectAlarm)
 * expires it; where several lapses follow one another, the board's clock is
 * moved forward instead.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, expect003 } from "../helpers/http";
import {
  boardObjectOf,
  boardOf,
  claimAt,
  dispatchFacts,
  expectSettled,
  FACTS,
  fenceOf,
  jobRecord,
  LEASE_MS,
  makeBridge,
  makeOperator,
  outcomeOf,
  waitForTask,
  waitUntilListed,
} from "../helpers/jobs";

describe("leases", { timeout: 30_000 }, () => {
  it("a heartbeat extends locked_until", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    // Claimed a minute ago: half the lease is left.
    const job = await claimAt(bridge, jobId, Date.now() - LEASE_MS / 2);
    const before = Date.parse(job.locked_until ?? "");

    const beat = await bridge.heartbeat(job);
    expect(beat.status, await beat.clone().text()).toBe(200);
    const ack = (await beat.json()) as { job_id: string; locked_until: string };
    expect(ack.job_id).toBe(jobId);
    expect(Date.parse(ack.locked_until)).toBeGreaterThanOrEqual(before + LEASE_MS / 2);

    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("refuses a missing lock token with 423 LOCK_REQUIRED and a wrong one with 423 LOCK_INVALID", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    const wrong = { job_id: jobId, lock_token: `${fenceOf(job.lock_token)}.not-the-secret` };
    const result = { facts: FACTS };
    const failure = { error_code: "oops", message: "no", retryable: false };

    for (const [path, body] of [
      ["heartbeat", {}],
      ["submit", { result }],
      ["fail", failure],
    ] as const) {
      await expect003(await bridge.call(`/api/v1/jobs/${jobId}/${path}`, body), 423, "LOCK_REQUIRED");
      const invalid = await bridge.call(`/api/v1/jobs/${jobId}/${path}`, { ...body, lock_token: wrong.lock_token });
      await expect003(invalid, 423, "LOCK_INVALID");
    }
    const input = job.inputs[0]?.url ?? "";
    await expect003(await call(input, { bearer: bridge.token }), 423, "LOCK_REQUIRED");
    await expect003(
      await call(input, { bearer: bridge.token, headers: { "x-lock-token": wrong.lock_token } }),
      423,
      "LOCK_INVALID",
    );

    // None of that touched the lease.
    expect((await bridge.heartbeat(job)).status).toBe(200);
    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a lapsed lease returns the job to pending; another bridge completes it and the first is refused", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [first, second] = [await makeBridge(), await makeBridge()];
    const stale = await claimAt(first, jobId, Date.now() - LEASE_MS - 60_000);

    await runDurableObjectAlarm(boardObjectOf(jobId));
    const requeued = await waitForTask(op, taskId, (task) => task.jobs[0]?.status === "pending");
    expect(requeued.jobs[0]).toMatchObject({ attempts: 1, error: { code: "lease_expired" } });
    // The lapsed holder no longer speaks for the job, even before anyone else claims it.
    await expect003(await first.heartbeat(stale), 423, "LOCK_INVALID");
    await expect003(await first.submit(stale), 423, "LOCK_INVALID");

    await waitUntilListed(second, jobId);
    const job = await second.claim(jobId);
    expect(job.attempt).toBe(2);
    expect(fenceOf(job.lock_token)).toBeGreaterThan(fenceOf(stale.lock_token));
    const theirs = { ...FACTS, width: 640, height: 480 };
    expect(await outcomeOf(await second.submit(job, theirs))).toMatchObject({ status: "completed", attempt: 2 });

    await expect003(await first.submit(stale), 409, "STATE_CONFLICT");
    const task = await expectSettled(op, taskId, { status: "done", facts: theirs, attempts: 2 });
    expect(task.jobs[0]?.agent_id).toBe(second.agentId);
  });

  it("after the last attempt's lease lapses, the job and its task fail as attempts_exhausted, dead-lettered", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const board = boardOf(jobId);

    let clock = Date.now();
    let job = await claimAt(bridge, jobId, clock);
    for (const attempt of [1, 2, 3]) {
      if (attempt > 1) job = await claimAt(bridge, jobId, clock);
      expect(job).toMatchObject({ attempt, max_attempts: 3 });
      clock += LEASE_MS + 1000;
      // A heartbeat after the lease ran out is refused: the board has put the job back (or failed it).
      const late = await board.heartbeat(jobId, job.lock_token ?? "", clock);
      expect(late).toMatchObject({ ok: false, reason: attempt < 3 ? "lock_invalid" : "state_conflict" });
      clock += 1000;
    }

    // A result arriving after that is refused, not taken for the board's own decision.
    await expect003(await bridge.submit(job), 409, "STATE_CONFLICT");
    const task = await expectSettled(op, taskId, {
      status: "failed",
      error: "attempts_exhausted",
      deadLetters: 1,
      attempts: 3,
    });
    expect(task.error?.message).toMatch(/3 of 3 attempts/);
  });

  it("a poison job, failed as retryable on every attempt, is dead-lettered after the last and its task fails", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const crash = { error_code: "handler_crashed", message: "ffprobe was killed by SIGSEGV", retryable: true };
    for (const attempt of [1, 2, 3]) {
      await waitUntilListed(bridge, jobId);
      const job = await bridge.claim(jobId);
      expect(job.attempt).toBe(attempt);
      const outcome = await outcomeOf(await bridge.fail(job, crash));
      expect(outcome.status).toBe(attempt < 3 ? "pending" : "failed");
    }
    const task = await expectSettled(op, taskId, {
      status: "failed",
      error: "attempts_exhausted",
      deadLetters: 1,
      attempts: 3,
    });
    expect(task.error?.message).toMatch(/3 of 3 attempts.*SIGSEGV/);
  });

  it("fail with retryable puts the job back for another claim; without retryable it fails; replays answer the same", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [first, second] = [await makeBridge(), await makeBridge()];

    const job = await first.claim(jobId);
    const busy = { error_code: "gpu_busy", message: "Another process holds the GPU", retryable: true };
    const retried = await outcomeOf(await first.fail(job, busy));
    expect(retried).toMatchObject({ job_id: jobId, status: "pending", attempt: 1, error_code: "gpu_busy" });
    expect(retried.retry_at).not.toBeNull();
    expect(await outcomeOf(await first.fail(job, busy))).toEqual(retried);

    await waitUntilListed(second, jobId);
    const again = await second.claim(jobId);
    expect(again.attempt).toBe(2);
    const broken = { error_code: "unsupported_codec", message: "ffprobe cannot read prores_raw", retryable: false };
    const failed = await outcomeOf(await second.fail(again, broken));
    expect(failed).toEqual({
      job_id: jobId,
      task_id: taskId,
      status: "failed",
      attempt: 2,
      retry_at: null,
      error_code: "unsupported_codec",
    });
    expect(await outcomeOf(await second.fail(again, broken))).toEqual(failed);
    // The first holder's token is long gone.
    await expect003(await first.fail(job, busy), 409, "STATE_CONFLICT");

    const task = await expectSettled(op, taskId, {
      status: "failed",
      error: "unsupported_codec",
      deadLetters: 0,
      attempts: 2,
    });
    expect(task.error?.message).toBe(broken.message);
    expect((await jobRecord(jobId)).errorMessage).toBe(broken.message);
  });
});
