/**
 * Eviction: a Durable Object's memory can vanish at any time (deploys,
 * idle eviction, a crash); everything that matters lives in its SQLite
 * storage. A JobBoard evicted mid-lease keeps its leases, tokens, fence and
 * pending jobs; a TaskRoom evicted keeps its events and sequence numbers, and
 * a watcher resumes from the last one it saw.
 */
import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  boardObjectOf,
  dispatchFacts,
  expectSettled,
  fenceOf,
  makeBridge,
  makeOperator,
  outcomeOf,
  taskEvents,
} from "../helpers/jobs";

describe("eviction", { timeout: 30_000 }, () => {
  it("a JobBoard evicted between claim and submit keeps the lease, the token and its pending jobs", async () => {
    const op = await makeOperator();
    const held = await dispatchFacts(op);
    const waiting = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(held.jobId);

    await evictDurableObject(boardObjectOf(held.jobId));

    const beat = await bridge.heartbeat(job, { progress: 0.5, stage: "probing" });
    expect(beat.status, await beat.clone().text()).toBe(200);
    expect(await bridge.list()).toContain(waiting.jobId);
    await outcomeOf(await bridge.submit(job));
    // The fence survived too: the next token is still greater.
    const next = await bridge.claim(waiting.jobId);
    expect(fenceOf(next.lock_token)).toBeGreaterThan(fenceOf(job.lock_token));
    await outcomeOf(await bridge.submit(next));

    await expectSettled(op, held.taskId, { status: "done", attempts: 1 });
    await expectSettled(op, waiting.taskId, { status: "done", attempts: 1 });
  });

  it("a TaskRoom evicted keeps its events and sequence, and resumes after the last seq seen", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    expect((await bridge.heartbeat(job, { progress: 0.25, stage: "probing" })).status).toBe(200);
    const before = await taskEvents(op, taskId);
    const seen = before.state.last_seq;
    expect(before.events.map((event) => event.seq)).toEqual(Array.from({ length: seen }, (_, i) => i + 1));

    await evictDurableObject(env.TASK_ROOM.getByName(taskId));

    const after = await taskEvents(op, taskId);
    expect(after.events).toEqual(before.events);
    expect(after.state).toEqual(before.state);
    expect((await bridge.heartbeat(job, { progress: 0.75, stage: "probing" })).status).toBe(200);
    const resumed = await taskEvents(op, taskId, seen);
    expect(resumed.events.map((event) => event.seq)).toEqual([seen + 1]);
    expect(resumed.events[0]).toMatchObject({ kind: "progress", progress: 0.75, stage: "probing", job_id: jobId });

    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
    const all = (await taskEvents(op, taskId)).events.map((event) => event.seq);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
  });
});
