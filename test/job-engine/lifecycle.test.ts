import { describe, expect, it } from "vitest";
import { call } from "../helpers/http";
import { dispatchFacts, FACTS, makeBridge, makeOperator, outcomeOf, waitForTask } from "../helpers/jobs";

describe("a job from dispatch to done", () => {
  it("is listed, claimed, heartbeated, submitted and projected to the task", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge();
    const { taskId, jobId } = await dispatchFacts(op);

    const listed = await bridge.call("/api/v1/jobs?limit=100");
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { job_id: string }[]).map((job) => job.job_id)).toContain(jobId);

    const job = await bridge.claim(jobId);
    expect(job.lock_token).toBeTruthy();
    expect(job.inputs[0]?.url).toBe(`/api/v1/jobs/${jobId}/inputs/source`);

    const input = await bridge.call(job.inputs[0]?.url ?? "");
    expect(input.status).toBe(423);
    const download = await call(job.inputs[0]?.url ?? "", {
      bearer: bridge.token,
      headers: { "x-lock-token": job.lock_token ?? "" },
    });
    expect(download.status).toBe(200);
    expect((await download.arrayBuffer()).byteLength).toBe(8);

    const beat = await bridge.call(`/api/v1/jobs/${jobId}/heartbeat`, {
      lock_token: job.lock_token,
      progress: 0.5,
      stage: "probing",
    });
    expect(beat.status).toBe(200);
    const running = await waitForTask(op, taskId, (task) => task.stage === "probing");
    expect(running.status).toBe("running");

    const outcome = await outcomeOf(await bridge.submit(job));
    expect(outcome).toMatchObject({ job_id: jobId, task_id: taskId, status: "completed", attempt: 1 });

    const done = await waitForTask(op, taskId);
    expect(done.status).toBe("done");
    expect(done.jobs[0]?.result).toMatchObject({ facts: FACTS });
  });
});
