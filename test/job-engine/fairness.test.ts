/**
 * Untrusted agents cannot crowd others out: a listed job is offered to its
 * lister for a few seconds but never renewed by listing again, an agent holds
 * at most its server-policy number of jobs, a submit never replays the answer
 * to a fail, and a job whose input was deleted fails on its own without
 * stalling the sweep that found it.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { handOff } from "../../worker/core/jobs/dispatch";
import { sweep } from "../../worker/core/jobs/reconcile";
import { artifacts, jobs } from "../../worker/db/schema";
import { db } from "../helpers/fixtures";
import { expect003 } from "../helpers/http";
import {
  boardOf,
  dispatchFacts,
  dispatchVia,
  expectSettled,
  jobRecord,
  makeBridge,
  makeOperator,
  outcomeOf,
  unreachable,
} from "../helpers/jobs";

const OFFER_MS = 3000;
const ids = (list: { job_id: string }[]) => list.map((job) => job.job_id);

describe("fairness between agents", { timeout: 30_000 }, () => {
  it("an offer hides a job from other agents for a while, and listing again does not renew it", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [a, b] = [await makeBridge(), await makeBridge()];
    const board = boardOf(jobId);
    const t0 = Date.now();

    expect(ids(await board.list(a.ref, 100, t0))).toContain(jobId);
    expect(ids(await board.list(b.ref, 100, t0 + 1000))).not.toContain(jobId);
    expect(ids(await board.list(a.ref, 100, t0 + 2000))).toContain(jobId);
    // A's offer ran out at t0 + 3 s, however often A listed: B sees the job now.
    expect(ids(await board.list(b.ref, 100, t0 + OFFER_MS + 500))).toContain(jobId);
    // A woken long-poll lists without taking an offer, so it hides nothing.
    expect(ids(await board.waitForWork(a.ref, 0, 100, t0 + OFFER_MS + 600))).toContain(jobId);

    await outcomeOf(await b.submit(await b.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("an agent holds at most max_parallel_jobs_allowed jobs at once, and is listed none beyond", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge();
    const held = [];
    for (let i = 0; i < 4; i++) {
      const { jobId } = await dispatchFacts(op);
      held.push(await bridge.claim(jobId));
    }
    const extra = await dispatchFacts(op);
    // At its limit it is listed nothing, so it takes no offers that would hide jobs from others.
    expect(await bridge.list()).toEqual([]);
    const refused = await expect003(await bridge.call(`/api/v1/jobs/${extra.jobId}/claim`, {}), 409, "STATE_CONFLICT");
    expect(refused.message).toMatch(/max_parallel_jobs_allowed/);
    await outcomeOf(await bridge.submit(held[0] ?? (await Promise.reject(new Error("no job")))));
    await outcomeOf(await bridge.submit(await bridge.claim(extra.jobId)));
    for (const job of held.slice(1)) await outcomeOf(await bridge.submit(job));
    await expectSettled(op, extra.taskId, { status: "done", attempts: 1 });
  });

  it("a submit with a token that already failed the attempt is refused, not answered with the fail's outcome", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    await outcomeOf(await bridge.fail(job, { error_code: "gpu_busy", message: "busy", retryable: true }));
    await expect003(await bridge.submit(job), 423, "LOCK_INVALID");
    await outcomeOf(await bridge.submit(await bridge.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 2 });
  });

  it("a job whose input was deleted fails as input_missing; the sweep still boards the others", async () => {
    const op = await makeOperator();
    const broken = await dispatchVia(op, { toBoard: unreachable, toQueue: unreachable });
    const fine = await dispatchVia(op, { toBoard: unreachable, toQueue: unreachable });
    const [brokenId, fineId] = [broken.jobIds[0] as string, fine.jobIds[0] as string];
    const inputs = (await jobRecord(brokenId)).inputs as Record<string, string>;
    await db()
      .delete(artifacts)
      .where(eq(artifacts.id, inputs.source ?? ""));

    const report = await sweep(env, Date.now() + 120_000, handOff);
    expect(report.failed).toContain(brokenId);
    expect(report.reboarded).toContain(fineId);
    expect(await boardOf(fineId).has(fineId)).toBe(true);
    const failed = await expectSettled(op, broken.taskId, {
      status: "failed",
      error: "input_missing",
      deadLetters: 0,
      attempts: 0,
    });
    expect(failed.error?.message).toMatch(/No artifact/);
    expect((await db().select().from(jobs).where(eq(jobs.id, fineId)))[0]?.boardedAt).not.toBeNull();
  });
});
