/**
 * Claims: one winner among concurrent claimers, fencing tokens that only grow,
 * and who may not claim at all (unregistered agents, humans, tokens without
 * jobs:claim, unknown jobs), each answered in contract 003's error shape.
 */
import { describe, expect, it } from "vitest";
import type { Job } from "../../worker/contracts/agent-protocol";
import { COOKIES } from "../../worker/http/cookies";
import { makeAgent, makeUiSession, makeUser } from "../helpers/fixtures";
import { call, expect003 } from "../helpers/http";
import {
  dispatchFacts,
  expectSettled,
  fenceOf,
  makeBridge,
  makeOperator,
  outcomeOf,
  waitUntilListed,
} from "../helpers/jobs";

describe("claiming a job", { timeout: 30_000 }, () => {
  it("has exactly one winner among ten bridges claiming at once; the rest get 409 STATE_CONFLICT", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridges = await Promise.all(Array.from({ length: 10 }, () => makeBridge()));

    const responses = await Promise.all(bridges.map((bridge) => bridge.call(`/api/v1/jobs/${jobId}/claim`, {})));

    const won = responses.findIndex((response) => response.status === 200);
    const winner = bridges[won];
    if (!winner) throw new Error(`no claim won: ${responses.map((response) => response.status)}`);
    for (const [i, response] of responses.entries()) {
      if (i === won) continue;
      expect((await expect003(response, 409, "STATE_CONFLICT")).message).toMatch(/claimed/);
    }
    const job = (await responses[won]?.json()) as Job;
    expect(job).toMatchObject({ job_id: jobId, status: "claimed", attempt: 1 });

    await outcomeOf(await winner.submit(job));
    const task = await expectSettled(op, taskId, { status: "done", attempts: 1 });
    expect(task.jobs[0]?.agent_id).toBe(winner.agentId);
  });

  it("hands out lock tokens whose fence only grows across successive claims", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [first, second] = [await makeBridge(), await makeBridge()];

    let holder = first;
    let job = await first.claim(jobId);
    const fences = [fenceOf(job.lock_token)];
    for (const next of [second, first]) {
      await outcomeOf(await holder.fail(job, retryable));
      await waitUntilListed(next, jobId);
      job = await next.claim(jobId);
      holder = next;
      fences.push(fenceOf(job.lock_token));
    }

    expect(fences.every(Number.isSafeInteger)).toBe(true);
    expect(fences[1]).toBeGreaterThan(fences[0] as number);
    expect(fences[2]).toBeGreaterThan(fences[1] as number);
    expect(job.attempt).toBe(3);
    await outcomeOf(await holder.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 3 });
  });

  it("tells an agent that has not registered to register, with or without an X-Agent-Id", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const agent = await makeAgent();

    const anonymous = await call(`/api/v1/jobs/${jobId}/claim`, { bearer: agent.token, json: {} });
    expect((await expect003(anonymous, 409, "STATE_CONFLICT")).message).toMatch(/register/i);
    const unknownId = await call(`/api/v1/jobs/${jobId}/claim`, {
      bearer: agent.token,
      headers: { "x-agent-id": crypto.randomUUID() },
      json: {},
    });
    expect((await expect003(unknownId, 409, "STATE_CONFLICT")).message).toMatch(/register/i);
    const list = await call("/api/v1/jobs", { bearer: agent.token });
    expect((await expect003(list, 409, "STATE_CONFLICT")).message).toMatch(/register/i);

    const bridge = await makeBridge();
    await outcomeOf(await bridge.submit(await bridge.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("refuses a human (UI session) with FORBIDDEN_ACTOR and a token without jobs:claim with FORBIDDEN_SCOPE", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const user = await makeUser();
    const session = await makeUiSession(user.id);

    const human = await call(`/api/v1/jobs/${jobId}/claim`, {
      cookies: { [COOKIES.uiSession]: session.secret },
      headers: { "x-csrf-token": session.csrf },
      json: {},
    });
    expect((await expect003(human, 403, "FORBIDDEN_ACTOR")).details).toEqual({
      required_actor: "agent",
      actor: "human",
    });

    const submitOnly = await makeAgent(["jobs:heartbeat", "jobs:submit"]);
    const unscoped = await call(`/api/v1/jobs/${jobId}/claim`, { bearer: submitOnly.token, json: {} });
    expect((await expect003(unscoped, 403, "FORBIDDEN_SCOPE")).details).toEqual({ required_scope: "jobs:claim" });

    // Neither refusal touched the job: the first real claim is attempt 1.
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    expect(job.attempt).toBe(1);
    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("answers 404 NOT_FOUND for a job that does not exist", async () => {
    const bridge = await makeBridge();
    const response = await bridge.call(`/api/v1/jobs/${crypto.randomUUID()}/claim`, {});
    await expect003(response, 404, "NOT_FOUND");
  });
});

const retryable = { error_code: "gpu_busy", message: "Another process holds the GPU", retryable: true };
