/** Environment parsing: defaults, every bad variable reported at once, secrets never echoed. */
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";

function problemsOf(env: NodeJS.ProcessEnv, requireToken = true): string[] {
  try {
    loadConfig(env, { requireToken });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("loadConfig", () => {
  it("fills in defaults around the token", () => {
    expect(loadConfig({ GPU_BRIDGE_TOKEN: "t" }, { requireToken: true })).toEqual({
      url: "http://127.0.0.1:8787",
      token: "t",
      name: os.hostname(),
      maxJobs: 2,
      waitSeconds: 20,
      scratchDir: path.join(os.tmpdir(), "media-edge-bridge"),
      logMode: "auto",
      shutdownGraceMs: 30_000,
      fault: null,
    });
  });

  it("parses every variable", () => {
    const config = loadConfig(
      {
        MEDIA_EDGE_URL: "https://edge.example.com/",
        GPU_BRIDGE_TOKEN: "t",
        GPU_BRIDGE_NAME: "gpu-7",
        GPU_BRIDGE_MAX_JOBS: "4",
        GPU_BRIDGE_WAIT_S: "25",
        GPU_BRIDGE_SCRATCH: "/var/tmp/bridge",
        GPU_BRIDGE_LOG: "json",
        GPU_BRIDGE_SHUTDOWN_GRACE_S: "2.5",
        GPU_BRIDGE_FAULT: "hold-before-submit:1500",
      },
      { requireToken: true },
    );
    expect(config).toEqual({
      url: "https://edge.example.com",
      token: "t",
      name: "gpu-7",
      maxJobs: 4,
      waitSeconds: 25,
      scratchDir: "/var/tmp/bridge",
      logMode: "json",
      shutdownGraceMs: 2500,
      fault: { point: "hold-before-submit", ms: 1500 },
    });
  });

  it("reports every bad variable at once, by name", () => {
    const problems = problemsOf({
      MEDIA_EDGE_URL: "ftp://nope",
      GPU_BRIDGE_MAX_JOBS: "abc",
      GPU_BRIDGE_WAIT_S: "60",
      GPU_BRIDGE_LOG: "fancy",
      GPU_BRIDGE_FAULT: "crash-now",
    });
    expect(problems.map((p) => p.split(/[=:]/)[0])).toEqual([
      "MEDIA_EDGE_URL",
      "GPU_BRIDGE_MAX_JOBS",
      "GPU_BRIDGE_WAIT_S",
      "GPU_BRIDGE_LOG",
      "GPU_BRIDGE_FAULT",
      "GPU_BRIDGE_TOKEN",
    ]);
    expect(problems[1]).toContain('"abc"');
  });

  it("requires the token to run but not for doctor, and treats an empty variable as unset", () => {
    expect(problemsOf({ GPU_BRIDGE_TOKEN: "" })).toEqual([expect.stringMatching(/^GPU_BRIDGE_TOKEN: required/)]);
    expect(problemsOf({ GPU_BRIDGE_MAX_JOBS: "" }, false)).toEqual([]);
  });

  it("never echoes the token in an error", () => {
    const problems = problemsOf({ GPU_BRIDGE_TOKEN: " ", GPU_BRIDGE_MAX_JOBS: "0" });
    expect(problems.join("\n")).not.toContain("GPU_BRIDGE_TOKEN=");
  });
});
