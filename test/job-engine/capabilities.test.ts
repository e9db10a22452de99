/**
 * Capabilities decide which boards a bridge sees: a job type is runnable by a
 * bridge that declared every capability it requires (`domain.function@N`,
 * version included). A job nobody can run is not an error: it waits.
 */
import { describe, expect, it } from "vitest";
import { loadBoardJobs } from "../../worker/core/jobs/dispatch";
import { db, makeAgent } from "../helpers/fixtures";
import { expect003 } from "../helpers/http";
import {
  boardOf,
  dispatchFacts,
  expectSettled,
  jobRecord,
  makeBridge,
  makeOperator,
  outcomeOf,
  readTask,
  registerBridge,
} from "../helpers/jobs";

const HOUR_MS = 3600_000;

describe("capabilities", { timeout: 30_000 }, () => {
  it("a bridge without media.facts@1 never sees extract_facts jobs, and its claim is 409", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    for (const capabilities of [["media.transcribe@1"], ["media.facts@2"], []]) {
      const other = await makeBridge(capabilities);
      expect(await other.list(), capabilities.join()).toEqual([]);
      // Nothing to wait for on no board: a long-poll answers at once instead of hanging.
      const started = Date.now();
      expect(await other.list("wait=10&limit=100")).toEqual([]);
      expect(Date.now() - started).toBeLessThan(5000);
      const claim = await other.call(`/api/v1/jobs/${jobId}/claim`, {});
      const body = await expect003(claim, 409, "STATE_CONFLICT");
      expect(body.details).toEqual({ required_capabilities: ["media.facts@1"] });
    }
    expect((await jobRecord(jobId)).status).toBe("pending");

    const capable = await makeBridge(["media.transcribe@1", "media.facts@1"]);
    expect(await capable.list()).toContain(jobId);
    await outcomeOf(await capable.submit(await capable.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("server_policy.allowed_job_types lists exactly the job types the capabilities cover", async () => {
    const agent = await makeAgent();
    for (const [capabilities, allowed] of [
      [["media.facts@1"], ["extract_facts"]],
      [["media.facts@1", "media.facts@1", "audio.transcribe@2"], ["extract_facts"]],
      [["media.facts@2"], []],
      [["audio.transcribe@2"], []],
      [[], []],
    ] as const) {
      const response = await registerBridge(agent.token, [...capabilities]);
      expect(response.status, await response.clone().text()).toBe(201);
      const { server_policy } = (await response.json()) as { server_policy: { allowed_job_types: string[] } };
      expect(server_policy.allowed_job_types, capabilities.join()).toEqual(allowed);
    }
  });

  it("refuses capability strings that are not domain.function@N with 422", async () => {
    const agent = await makeAgent();
    for (const capability of ["media.facts", "facts@1", "Media.Facts@1", "media.facts@0", "media.facts@v1", ""]) {
      const response = await registerBridge(agent.token, [capability]);
      const body = await expect003(response, 422, "VALIDATION_FAILED");
      const errors = (body.details as { errors: { loc: unknown[] }[] }).errors;
      expect(
        errors.map((error) => error.loc),
        capability,
      ).toContainEqual(["body", "capabilities", 0]);
    }
  });

  it("a job no registered bridge can run stays pending, without error, until a capable bridge arrives", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const other = await makeBridge(["media.transcribe@1"]);
    expect(await other.list()).toEqual([]);

    // An hour later, with the board's clock moved on: still waiting, not failed.
    const {
      jobs: [job],
    } = await loadBoardJobs(db(), [jobId]);
    if (!job) throw new Error("job not in D1");
    expect(await boardOf(jobId).enqueue([job], Date.now() + HOUR_MS)).toEqual({ added: [false] });
    expect(await jobRecord(jobId)).toMatchObject({ status: "pending", attempts: 0, errorCode: null });
    const task = await readTask(op, taskId);
    expect(task).toMatchObject({ status: "pending", error: null });

    const capable = await makeBridge();
    await outcomeOf(await capable.submit(await capable.claim(jobId)));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });
});
