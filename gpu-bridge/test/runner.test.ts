/**
 * The runner against a fake agent API: registration, claiming up to N,
 * heartbeats, lost leases, submit retries, drain on stop, fatal 401s. Every
 * wait is on an event or a request, never on a fixed delay.
 */
import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { startBridge, type TestBridge } from "./helpers/bridge";
import { errorBody, FakeAgentApi, type Recorded } from "./helpers/fake-api";
import { FACTS, gatedHandler } from "./helpers/gated-handler";
import { must } from "./helpers/must";

let api: FakeAgentApi | undefined;
let bridge: TestBridge | undefined;

afterEach(async () => {
  await bridge?.dispose();
  await api?.close();
  bridge = undefined;
  api = undefined;
});

async function setup(options: Parameters<typeof gatedHandler>[0] = {}, config: Parameters<typeof startBridge>[2] = {}) {
  api = await FakeAgentApi.start();
  const gated = gatedHandler(options);
  return { api, gated, start: async () => (bridge = await startBridge(must(api).url, gated.handler, config)) };
}

const bodySchema = z.record(z.string(), z.unknown());
const bodyOf = (request: Recorded) => bodySchema.parse(request.body);

describe("registration", () => {
  it("registers the detected capability and clamps its slots to the server's policy", async () => {
    const { api, start } = await setup({}, { maxJobs: 4 });
    api.policy = { ...api.policy, max_parallel_jobs_allowed: 1 };
    const { log } = await start();
    const registered = await log.waitFor("bridge.registered");
    expect(registered.slots).toBe(1);
    const register = bodyOf(must(api.of("register")[0]));
    expect(register).toMatchObject({
      agent_name: "test-bridge",
      capabilities: ["media.facts@1"],
      max_parallel_jobs: 4,
    });
    const poll = await api.waitFor((r) => r.route === "list");
    expect(poll.query.get("limit")).toBe("1");
    expect(poll.headers["x-agent-id"]).toBe(registered.agent_id);
  });

  it("keeps retrying registration until the Worker comes up, then works", async () => {
    const placeholder = await FakeAgentApi.start();
    const port = Number(new URL(placeholder.url).port);
    await placeholder.close();
    const gated = gatedHandler({ autoRelease: true });
    bridge = await startBridge(`http://127.0.0.1:${port}`, gated.handler);
    await bridge.log.waitFor("bridge.register_error");
    api = await FakeAgentApi.start(port);
    const job = api.addJob();
    await bridge.log.waitFor("job.submitted", (e) => e.job_id === job.job_id);
    expect(api.job(job.job_id).job.status).toBe("completed");
  });

  it("registers again when the Worker no longer knows its registration (409 on poll)", async () => {
    const { api, start } = await setup({ autoRelease: true });
    api.override("list", (_request, call) =>
      call === 1 ? { status: 409, body: errorBody("STATE_CONFLICT", "No registration for this agent") } : undefined,
    );
    const job = api.addJob();
    const { log } = await start();
    await log.waitFor("job.submitted", (e) => e.job_id === job.job_id);
    expect(log.all("bridge.reregistering")).toHaveLength(1);
    expect(log.all("bridge.registered")).toHaveLength(2);
    const [, second] = log.all("bridge.registered");
    expect(must(api.of("list").at(-1)).headers["x-agent-id"]).toBe(must(second).agent_id);
  });

  it("exits 1 on a 401 at registration, without retrying", async () => {
    api = await FakeAgentApi.start();
    bridge = await startBridge(api.url, gatedHandler().handler, {}, "wrong-token");
    expect(await bridge.exit).toBe(1);
    expect(bridge.log.all("bridge.fatal")[0]?.error).toMatch(/401/);
    expect(api.of("register")).toHaveLength(1);
  });

  it("exits 1 on a 401 while polling", async () => {
    const { api, start } = await setup();
    api.override("list", () => ({ status: 401, body: errorBody("UNAUTHORIZED", "token revoked") }));
    const { exit, log } = await start();
    expect(await exit).toBe(1);
    expect(log.all("bridge.fatal")).toHaveLength(1);
  });
});

describe("polling and claiming", () => {
  it("claims up to N jobs and polls again only when a slot frees", async () => {
    const { api, gated, start } = await setup({}, { maxJobs: 2 });
    const jobs = [api.addJob(), api.addJob(), api.addJob()];
    const { log } = await start();
    const [first] = await gated.started(2);
    expect(api.of("claim")).toHaveLength(2);
    expect(api.of("list").map((r) => r.query.get("limit"))).toEqual(["2"]);

    gated.release(must(first).job.job_id);
    await gated.started(3);
    expect(api.of("list").map((r) => r.query.get("limit"))).toEqual(["2", "1"]);
    for (const job of jobs) gated.release(job.job_id);
    for (const job of jobs) await log.waitFor("job.submitted", (e) => e.job_id === job.job_id);
    expect(gated.maxRunning()).toBe(2);
    expect(api.of("claim")).toHaveLength(3);
  });

  it("long-polls again at once after a claim: the minimum poll interval binds only polls that do not wait", async () => {
    const { api, gated, start } = await setup({}, { maxJobs: 2 });
    // An hour: honoured after this claim, it would hold the second job past the test's timeout.
    api.policy = { ...api.policy, min_poll_interval_seconds: 3600 };
    const first = api.addJob();
    await start();
    await gated.started(1);
    const second = api.addJob();
    const started = await gated.started(2);
    expect(started.map((run) => run.job.job_id)).toEqual([first.job_id, second.job_id]);
    for (const job of [first, second]) gated.release(job.job_id);
  }, 15_000);

  it("rides through poll failures: a dropped connection, a 503, a 429 honouring Retry-After", async () => {
    const { api, start } = await setup({ autoRelease: true });
    api.override("list", (_request, call) => {
      if (call === 1) return "destroy";
      if (call === 2) return { status: 503, body: errorBody("TEMPORARY_UNAVAILABLE", "restarting", true) };
      if (call === 3)
        return { status: 429, body: errorBody("RATE_LIMITED", "slow down", true), headers: { "retry-after": "1" } };
      return undefined;
    });
    const job = api.addJob();
    const { log } = await start();
    await log.waitFor("job.submitted", (e) => e.job_id === job.job_id);
    expect(log.all("bridge.poll_error").map((e) => e.status)).toEqual([undefined, 503, 429]);
    const [, , limited, after] = api.of("list");
    expect(must(after).at - must(limited).at).toBeGreaterThanOrEqual(950);
  });
});

describe("a running job", () => {
  it("heartbeats with the handler's progress, stage, message and the lease's token", async () => {
    const { api, gated, start } = await setup();
    const job = api.addJob();
    const { log } = await start();
    const heartbeat = await api.waitFor((r) => r.route === "heartbeat" && bodyOf(r).stage === "working");
    expect(bodyOf(heartbeat)).toEqual({
      lock_token: api.job(job.job_id).lockToken,
      progress: 0.6,
      stage: "working",
      message: "half way",
    });
    gated.release(job.job_id);
    await log.waitFor("job.submitted");
    const submitted = bodyOf(must(api.of("submit")[0]));
    expect(submitted.result).toMatchObject({ facts: FACTS, warnings: ["from the gated test handler"] });
  });

  it("on a lost lease (423 on heartbeat) kills its children, removes its scratch dir and submits nothing", async () => {
    const { api, gated, start } = await setup({ spawnChild: true });
    // Lost once the handler's child runs (the first heartbeat goes out as soon as the job starts).
    api.override("heartbeat", () =>
      gated.childPids.size > 0 ? { status: 423, body: errorBody("LOCK_INVALID", "lease taken over") } : undefined,
    );
    const job = api.addJob();
    const { log } = await start();
    const [context] = await gated.started(1);
    const pid = gated.childPids.get(job.job_id);
    expect(pid).toBeTypeOf("number");
    const lost = await log.waitFor("job.lease_lost");
    expect(lost.job_id).toBe(job.job_id);
    expect(() => process.kill(must(pid), 0)).toThrow();
    expect(existsSync(must(context).scratchDir)).toBe(false);
    expect(api.of("submit")).toHaveLength(0);
    expect(api.of("fail")).toHaveLength(0);
  });

  it("retries a submit answered 503 with the same token and body, and it is applied once", async () => {
    const { api, start } = await setup({ autoRelease: true });
    api.override("submit", (_request, call) =>
      call === 1 ? { status: 503, body: errorBody("TEMPORARY_UNAVAILABLE", "try again", true) } : undefined,
    );
    const job = api.addJob();
    const { log } = await start();
    await log.waitFor("job.submitted");
    const submits = api.of("submit");
    expect(submits).toHaveLength(2);
    expect(must(submits[1]).body).toEqual(must(submits[0]).body);
    expect(log.all("job.submit_retry")).toHaveLength(1);
    expect(log.all("job.submitted")).toHaveLength(1);
    expect(api.job(job.job_id).job.status).toBe("completed");
  });

  it("holds under GPU_BRIDGE_FAULT=hold-before-submit with heartbeats at stage hold", async () => {
    const { api, start } = await setup({ autoRelease: true }, { fault: { point: "hold-before-submit", ms: 60_000 } });
    const job = api.addJob();
    const { log, runner } = await start();
    const hold = await log.waitFor("job.hold");
    expect(hold).toMatchObject({ job_id: job.job_id, point: "hold-before-submit" });
    await api.waitFor((r) => r.route === "heartbeat" && bodyOf(r).stage === "hold");
    runner.stop();
    runner.stop();
    await log.waitFor("job.failed");
    expect(api.of("submit")).toHaveLength(0);
  });
});

describe("stopping", () => {
  it("lets a running job finish within the grace period and claims nothing more", async () => {
    const { api, gated, start } = await setup();
    const job = api.addJob();
    const { log, runner, exit } = await start();
    await gated.started(1);
    runner.stop();
    await log.waitFor("bridge.draining");
    api.addJob();
    gated.release(job.job_id);
    expect(await exit).toBe(0);
    expect(log.all("job.submitted")).toHaveLength(1);
    expect(api.of("claim")).toHaveLength(1);
    expect(log.records.at(-1)?.event).toBe("bridge.stopped");
  });

  it("fails jobs still running when the grace period ends, as retryable bridge_shutdown", async () => {
    const { api, gated, start } = await setup({}, { shutdownGraceMs: 50 });
    const job = api.addJob();
    const { log, runner, exit } = await start();
    const [context] = await gated.started(1);
    runner.stop();
    expect(await exit).toBe(0);
    expect(must(context).signal.aborted).toBe(true);
    expect(bodyOf(must(api.of("fail")[0]))).toMatchObject({ error_code: "bridge_shutdown", retryable: true });
    expect(api.job(job.job_id).job.status).toBe("pending");
    expect(log.all("job.failed")[0]).toMatchObject({ error_code: "bridge_shutdown", reported: true });
  });

  it("fails running jobs at once on a second stop", async () => {
    const { api, gated, start } = await setup({}, { shutdownGraceMs: 600_000 });
    api.addJob();
    api.addJob();
    const { log, runner, exit } = await start();
    await gated.started(2);
    runner.stop();
    runner.stop();
    expect(await exit).toBe(0);
    expect(log.all("bridge.force_stop")).toHaveLength(1);
    expect(api.of("fail").map((r) => bodyOf(r).error_code)).toEqual(["bridge_shutdown", "bridge_shutdown"]);
  });
});
