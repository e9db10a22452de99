/**
 * The job engine end to end: wrangler dev (workerd, local D1/R2/DO/queues)
 * plus real GPU bridge processes running ffprobe. Leases are short here
 * (3 s, heartbeat every second) so a dead bridge's job comes back quickly;
 * every wait is on a bridge's log line or the task's event stream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalWorker, startLocalWorker } from "../../scripts/lib/local-worker";
import { type BridgeProcess, makeClip, Operator, startBridge, stopBridge, type TaskRecord } from "./harness";

let worker: LocalWorker;
let operator: Operator;
let clip: string;
const bridges: BridgeProcess[] = [];

function bridge(name: string, env: Record<string, string> = {}): BridgeProcess {
  const started = startBridge(worker, name, env);
  bridges.push(started);
  return started;
}

function expectFacts(task: TaskRecord): void {
  expect(task.status, JSON.stringify(task)).toBe("done");
  const facts = task.jobs[0]?.result?.facts;
  expect(facts).toMatchObject({ video_codec: "h264", audio_codec: "aac", width: 320, height: 240, fps: 25 });
  expect(Math.abs(Number(facts?.duration_ms) - 2000)).toBeLessThan(100);
}

beforeAll(async () => {
  clip = makeClip();
  worker = await startLocalWorker({
    vars: { JOB_LEASE_S: "3", JOB_HEARTBEAT_S: "1", JOB_BACKOFF_BASE_MS: "1", JOB_BACKOFF_MAX_MS: "10" },
  });
  operator = await Operator.signIn(worker);
}, 120_000);

afterAll(async () => {
  await Promise.all(bridges.map((b) => stopBridge(b, "SIGKILL")));
  await worker?.dispose();
});

describe("bridges against a real Worker", () => {
  it("runs media.facts@1 on a real clip through one bridge", async () => {
    const one = bridge("e2e-single");
    await one.waitFor("bridge.registered");
    const { taskId, jobId } = await operator.dispatchFacts(await operator.upload(clip));
    expectFacts(await operator.finished(taskId));
    await one.waitFor("job.submitted", (line) => line.job_id === jobId);
    await stopBridge(one);
    expect(await one.exited).toBe(0);
  });

  it("a bridge SIGKILLed mid-job: the other bridge completes it", async () => {
    const doomed = bridge("e2e-doomed", { GPU_BRIDGE_FAULT: "hold-before-run:60000" });
    await doomed.waitFor("bridge.registered");
    const { taskId, jobId } = await operator.dispatchFacts(await operator.upload(clip));
    await doomed.waitFor("job.hold", (line) => line.job_id === jobId);

    const rescuer = bridge("e2e-rescuer");
    const registered = await rescuer.waitFor("bridge.registered");
    doomed.child.kill("SIGKILL");
    await doomed.exited;

    const task = await operator.finished(taskId);
    expectFacts(task);
    expect(task.jobs[0]?.attempts).toBe(2);
    expect(task.jobs[0]?.agent_id).toBe(registered.agent_id);
    await rescuer.waitFor("job.submitted", (line) => line.job_id === jobId);
    await stopBridge(rescuer);
  });

  it("a bridge dying between finishing the work and submitting: the result is applied once, by the other", async () => {
    const doomed = bridge("e2e-unsubmitted", { GPU_BRIDGE_FAULT: "hold-before-submit:60000" });
    await doomed.waitFor("bridge.registered");
    const { taskId, jobId } = await operator.dispatchFacts(await operator.upload(clip));
    await doomed.waitFor("job.hold", (line) => line.job_id === jobId);
    doomed.child.kill("SIGKILL");
    await doomed.exited;

    const rescuer = bridge("e2e-finisher");
    const task = await operator.finished(taskId);
    expectFacts(task);
    expect(task.jobs[0]?.attempts).toBe(2);
    await rescuer.waitFor("job.submitted", (line) => line.job_id === jobId);
    await stopBridge(rescuer);
  });

  it("SIGTERM drains: the held job is failed as retryable and another bridge completes it", async () => {
    const leaving = bridge("e2e-leaving", {
      GPU_BRIDGE_FAULT: "hold-before-run:60000",
      GPU_BRIDGE_SHUTDOWN_GRACE_S: "1",
    });
    await leaving.waitFor("bridge.registered");
    const { taskId, jobId } = await operator.dispatchFacts(await operator.upload(clip));
    await leaving.waitFor("job.hold", (line) => line.job_id === jobId);
    leaving.child.kill("SIGTERM");
    expect(await leaving.exited).toBe(0);
    expect(leaving.lines.some((line) => line.event === "job.failed" && line.job_id === jobId)).toBe(true);

    const next = bridge("e2e-next");
    const task = await operator.finished(taskId);
    expectFacts(task);
    expect(task.jobs[0]?.attempts).toBe(2);
    await stopBridge(next);
  });
});

/** Its own Worker with the default 120 s lease: the restart must not cost the lease. */
describe("a Worker restart", () => {
  let restarting: LocalWorker;
  let op: Operator;

  beforeAll(async () => {
    restarting = await startLocalWorker();
    op = await Operator.signIn(restarting);
  }, 120_000);

  afterAll(async () => {
    await restarting?.dispose();
  });

  it("mid-flight, over its persisted state: the bridge rides through and submits on its first attempt", async () => {
    const steady = startBridge(restarting, "e2e-steady", { GPU_BRIDGE_FAULT: "hold-before-submit:2000" });
    bridges.push(steady);
    await steady.waitFor("bridge.registered");
    const { taskId, jobId } = await op.dispatchFacts(await op.upload(clip));
    await steady.waitFor("job.hold", (line) => line.job_id === jobId);
    await restarting.restart();

    const task = await op.finished(taskId);
    expectFacts(task);
    expect(task.jobs[0]?.attempts).toBe(1);
    await steady.waitFor("job.submitted", (line) => line.job_id === jobId);

    // Work dispatched after the restart flows as before.
    const again = await op.dispatchFacts(await op.upload(clip));
    expectFacts(await op.finished(again.taskId));
    await stopBridge(steady);
  });
});
