/** Starts a Runner in-process against a fake API, with fast backoff and a private scratch dir. */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AgentClient } from "../../src/client";
import type { Config } from "../../src/config";
import type { Handler } from "../../src/handlers/types";
import { Runner } from "../../src/runner";
import { TEST_TOKEN } from "./fake-api";
import { MemoryLog } from "./memory-log";

export interface TestBridge {
  runner: Runner;
  log: MemoryLog;
  config: Config;
  exit: Promise<number>;
  /** Stops (twice: no grace) and removes the scratch root. */
  dispose(): Promise<void>;
}

export async function startBridge(
  url: string,
  handler: Handler,
  overrides: Partial<Config> = {},
  token = TEST_TOKEN,
): Promise<TestBridge> {
  const scratchDir = await mkdtemp(path.join(os.tmpdir(), "bridge-test-"));
  const config: Config = {
    url,
    token,
    name: "test-bridge",
    maxJobs: 2,
    waitSeconds: 5,
    scratchDir,
    logMode: "json",
    shutdownGraceMs: 30_000,
    fault: null,
    ...overrides,
  };
  const log = new MemoryLog();
  const client = new AgentClient({ baseUrl: url, token, userAgent: "gpu-bridge-test" });
  const runner = new Runner({ config, client, handlers: [handler], log, backoff: { baseMs: 10, maxMs: 100 } });
  const exit = runner.run();
  return {
    runner,
    log,
    config,
    exit,
    async dispose() {
      runner.stop();
      runner.stop();
      await exit;
      await rm(scratchDir, { recursive: true, force: true });
    },
  };
}
