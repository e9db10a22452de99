/** The two log renderers: JSON lines for machines, plain or live lines for people. */
import { describe, expect, it } from "vitest";
import { createLogger, JsonLogger, PrettyLogger } from "../src/log";

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, out: { isTTY, columns: 120, write: (chunk: string) => chunks.push(chunk) } };
}

describe("JsonLogger", () => {
  it("writes one parseable object per line, with errors as {name, message}", () => {
    const { chunks, out } = sink(false);
    new JsonLogger(out).event("job.failed", { job_id: "j1", error: new TypeError("boom") }, "warn");
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.endsWith("\n")).toBe(true);
    expect(JSON.parse(chunks[0] ?? "")).toEqual({
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: "warn",
      event: "job.failed",
      job_id: "j1",
      error: { name: "TypeError", message: "boom" },
    });
  });

  it("is what auto picks when stdout is not a terminal", () => {
    expect(createLogger("auto", sink(false).out)).toBeInstanceOf(JsonLogger);
    expect(createLogger("auto", sink(true).out)).toBeInstanceOf(PrettyLogger);
  });
});

describe("PrettyLogger", () => {
  it("without a terminal prints a line per event and per stage change, no escape codes", () => {
    const { chunks, out } = sink(false);
    const log = new PrettyLogger(out);
    log.event("job.claimed", { job_id: "c8481cf5-fb55", job_type: "extract_facts" });
    log.event("job.progress", { job_id: "c8481cf5-fb55", progress: 0.1, stage: "downloading" });
    log.event("job.progress", { job_id: "c8481cf5-fb55", progress: 0.2, stage: "downloading" });
    log.event("job.progress", { job_id: "c8481cf5-fb55", progress: 0.5, stage: "probing" });
    log.event("job.submitted", { job_id: "c8481cf5-fb55", status: "completed" });
    expect(chunks.map((c) => c.slice(9, 27).trim())).toEqual([
      "job.claimed",
      "job.progress",
      "job.progress",
      "job.submitted",
    ]);
    expect(chunks.join("")).toContain("job_id=c8481cf5 ");
    expect(chunks.join("")).not.toContain("\x1b[");
  });

  it("on a terminal keeps a live line per running job under the event lines", () => {
    const { chunks, out } = sink(true);
    const log = new PrettyLogger(out);
    log.event("job.claimed", { job_id: "aaaaaaaa-1", job_type: "extract_facts" });
    log.event("job.claimed", { job_id: "bbbbbbbb-2", job_type: "extract_facts" });
    const last = chunks.at(-1) ?? "";
    expect(last).toContain("[1] aaaaaaaa extract_facts");
    expect(last).toContain("[2] bbbbbbbb extract_facts");
    log.event("job.lease_lost", { job_id: "aaaaaaaa-1" }, "warn");
    const after = chunks.at(-1) ?? "";
    expect(after.startsWith("\x1b[2A\x1b[J")).toBe(true);
    expect(after).not.toContain("aaaaaaaa extract_facts");
    expect(after).toContain("[1] bbbbbbbb extract_facts");
  });
});
