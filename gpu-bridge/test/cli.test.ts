/**
 * The CLI as a real process: exit codes, JSON log lines on stdout (what the
 * end-to-end tests wait on), signal handling, doctor.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { hasFfmpeg } from "./helpers/clips";
import { FakeAgentApi, TEST_TOKEN } from "./helpers/fake-api";
import { must } from "./helpers/must";
import { spawnBridge } from "./helpers/process";

const ffmpegAvailable = await hasFfmpeg();
let api: FakeAgentApi;
let scratch: string;

beforeEach(async () => {
  api = await FakeAgentApi.start();
  scratch = await mkdtemp(path.join(os.tmpdir(), "bridge-cli-test-"));
});

afterEach(async () => {
  await api.close();
  await rm(scratch, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  MEDIA_EDGE_URL: api.url,
  GPU_BRIDGE_TOKEN: TEST_TOKEN,
  GPU_BRIDGE_SCRATCH: scratch,
  GPU_BRIDGE_WAIT_S: "1",
  ...extra,
});

describe("gpu-bridge CLI", () => {
  it("exits 2 listing every bad variable", async () => {
    const bridge = spawnBridge(["run"], { GPU_BRIDGE_LOG: "fancy", GPU_BRIDGE_MAX_JOBS: "0" });
    expect(await bridge.exit).toBe(2);
    expect(bridge.stderr()).toMatch(/GPU_BRIDGE_MAX_JOBS="0"/);
    expect(bridge.stderr()).toMatch(/GPU_BRIDGE_LOG="fancy"/);
    expect(bridge.stderr()).toMatch(/GPU_BRIDGE_TOKEN: required/);
  });

  it("exits 2 on an unknown command", async () => {
    const bridge = spawnBridge(["frobnicate"], env());
    expect(await bridge.exit).toBe(2);
    expect(bridge.stderr()).toMatch(/usage: gpu-bridge/);
  });

  it("exits 1 with a bridge.fatal line when the token is refused", async () => {
    const bridge = spawnBridge(["run"], env({ GPU_BRIDGE_TOKEN: "not-the-token" }));
    expect(await bridge.exit).toBe(1);
    expect(must(bridge.lines.find((l) => l.event === "bridge.fatal")).error).toMatch(/GPU_BRIDGE_TOKEN/);
    expect(bridge.lines.at(-1)).toMatchObject({ event: "bridge.stopped", exit_code: 1 });
  });

  it.skipIf(!ffmpegAvailable)("on SIGTERM drains, fails the held job as retryable and exits 0", async () => {
    const job = api.addJob();
    const bridge = spawnBridge(
      ["run"],
      env({ GPU_BRIDGE_FAULT: "hold-before-run:60000", GPU_BRIDGE_SHUTDOWN_GRACE_S: "0.2" }),
    );
    const hold = await bridge.waitForEvent("job.hold");
    expect(hold.job_id).toBe(job.job_id);
    bridge.child.kill("SIGTERM");
    expect(await bridge.exit).toBe(0);
    const fail = z.object({ error_code: z.string(), retryable: z.boolean() }).parse(must(api.of("fail")[0]).body);
    expect(fail).toEqual({ error_code: "bridge_shutdown", retryable: true });
    const events = bridge.lines.map((l) => l.event);
    const order = ["bridge.registered", "job.claimed", "job.hold", "bridge.draining", "job.failed", "bridge.stopped"];
    expect(events.filter((e) => e !== undefined && order.includes(e))).toEqual(order);
  });

  it.skipIf(!ffmpegAvailable)("doctor --json reports tools, capabilities and an accepted token", async () => {
    const bridge = spawnBridge(["doctor", "--json"], env());
    expect(await bridge.exit).toBe(0);
    const report: unknown = JSON.parse(bridge.stdout());
    expect(report).toMatchObject({
      tools: { ffprobe: expect.stringMatching(/^ffprobe version/) },
      capabilities: expect.arrayContaining([
        { capability: "media.facts@1", job_type: "extract_facts", available: true, detail: expect.any(String) },
      ]),
      would_register: expect.arrayContaining(["media.facts@1", "media.thumbnails@1", "image.generate@1"]),
      providers: expect.arrayContaining([expect.stringMatching(/^local/)]),
      server: { url: api.url, reachable: true, detail: "GET /health 200", token: "accepted (GET /api/v1/jobs 200)" },
      problems: [],
    });
    const nvenc = z
      .object({ listed: z.boolean(), works: z.boolean() })
      .parse(z.object({ nvenc: z.unknown() }).parse(report).nvenc);
    // Listing is not enough: NVENC counts as working only after a test encode, which needs it listed.
    expect(nvenc.works && !nvenc.listed).toBe(false);
  });
});
