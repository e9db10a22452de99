/**
 * GET /admin/boards: each board's depth, and the job types as plain data — no
 * zod schemas (which serialise as zod's internals), input patterns as source.
 */
import { describe, expect, it } from "vitest";
import { JOB_TYPE_NAMES, JOB_TYPES } from "../../worker/contracts/job-types";
import { call } from "../helpers/http";
import { makeOperator } from "../helpers/jobs";

describe("GET /admin/boards", () => {
  it("renders each job type as its description, capabilities, inputs, outputs and shards", async () => {
    const op = await makeOperator();
    const response = await call("/admin/boards", { cookies: op.cookies });
    expect(response.status, await response.clone().text()).toBe(200);
    const body = (await response.json()) as {
      boards: Record<string, { pending: number }>;
      job_types: Record<string, Record<string, unknown>>;
    };
    expect(body.boards["extract_facts#0"]).toMatchObject({ pending: expect.any(Number) });

    expect(Object.keys(body.job_types)).toEqual(JOB_TYPE_NAMES);
    for (const type of Object.values(body.job_types)) {
      expect(Object.keys(type).sort()).toEqual(["capabilities", "description", "inputs", "outputs", "shards"]);
    }
    expect(body.job_types.extract_facts).toEqual({
      description: JOB_TYPES.extract_facts.description,
      capabilities: ["media.facts@1"],
      inputs: { required: ["source"] },
      outputs: [],
      shards: 1,
    });
    expect(body.job_types.compose_video).toMatchObject({
      inputs: { required: [], optional: ["audio"], pattern: "^clip_[0-9]{1,3}$", max: 101 },
      outputs: [{ kind: "video", content_types: ["video/mp4"] }],
    });
  });
});
