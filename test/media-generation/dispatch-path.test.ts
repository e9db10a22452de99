/**
 * How a generation reaches its JobBoard: through the queue while every live
 * bridge able to run it is at its max_parallel_jobs (the job would wait on the
 * board anyway; the consumer boards queued jobs in batches), straight to the
 * board when one has a free slot. This file's storage is its own, so the
 * bridges here are the only ones the boards know.
 */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { boardFor } from "../../worker/core/jobs/boards";
import { claimGeneration, IMAGE, jobOf, liveBridge, makeClient, started } from "../helpers/generation";
import { jobRecord } from "../helpers/jobs";

/** Past the second an isolate remembers what the boards said about capacity. */
const forgetCapacity = () => new Promise((resolve) => setTimeout(resolve, 1100));

describe("how a generation reaches its board", () => {
  it("with every live bridge at its max_parallel_jobs: through the queue, whose consumer boards it", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    // Fill the bridge's four slots (test bridges register with max_parallel_jobs 4).
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await claimGeneration(bridge, await started(client, { ...IMAGE, seed: i })));
    const board = boardFor(env, "generate_image", held[0]?.job_id ?? "");
    expect(await board.presence()).toEqual({ alive: 1, free: 0 });
    await forgetCapacity();

    const jobId = await jobOf(await started(client, { ...IMAGE, seed: 99 }));
    // Not handed over directly: the queue's batch (max_batch_timeout 1 s) has not been delivered yet.
    expect(await board.has(jobId)).toBe(false);
    await vi.waitFor(async () => expect((await jobRecord(jobId)).boardedAt).not.toBeNull(), { timeout: 10_000 });
    expect(await board.has(jobId)).toBe(true);
  });

  it("with a free slot: straight to the board, which holds the job when /generate answers", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    await forgetCapacity();
    const jobId = await jobOf(await started(client));
    expect(await boardFor(env, "generate_image", jobId).has(jobId)).toBe(true);
    expect((await bridge.claim(jobId)).job_id).toBe(jobId);
  });
});
