/** Runs the real CLI (node --import tsx gpu-bridge/src/cli.ts) and reads its JSON log lines from stdout. */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const CLI = "gpu-bridge/src/cli.ts";

export interface Line extends Record<string, unknown> {
  event?: string;
}

export interface BridgeProcess {
  child: ChildProcess;
  lines: Line[];
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
  waitForEvent(event: string, timeoutMs?: number): Promise<Line>;
}

export function spawnBridge(args: string[], env: Record<string, string>): BridgeProcess {
  // Hermetic: nothing from the developer's own bridge configuration leaks in.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("GPU_BRIDGE_") && name !== "MEDIA_EDGE_URL"),
  );
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Line[] = [];
  const raw: string[] = [];
  let errText = "";
  let waiters: { event: string; resolve: (line: Line) => void }[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    errText += chunk.toString("utf8");
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    raw.push(text);
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      return;
    }
    lines.push(line);
    const ready = waiters.filter((w) => w.event === line.event);
    waiters = waiters.filter((w) => w.event !== line.event);
    for (const waiter of ready) waiter.resolve(line);
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    stdout: () => raw.join("\n"),
    stderr: () => errText,
    exit,
    waitForEvent(event, timeoutMs = 30_000) {
      const seen = lines.find((line) => line.event === event);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no ${event} within ${timeoutMs} ms; stdout:\n${raw.join("\n")}\nstderr:\n${errText}`)),
          timeoutMs,
        );
        waiters.push({
          event,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}
