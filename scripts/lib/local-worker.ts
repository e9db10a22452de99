/**
 * A real local Worker for end-to-end tests and benchmarks: `wrangler dev` on a
 * free port over its own persisted state (D1, R2, Durable Objects, queues),
 * with the real migrations applied and the demo credentials seeded. It can be
 * stopped and started again over the same state, as a restart would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomSecret } from "../../worker/auth/crypto";
import { type DemoCredentials, freshCredentials, seedSql } from "../seed";
import { ROOT, WRANGLER, WRANGLER_ENV, wranglerSync } from "./wrangler";

export { ROOT };

export interface LocalWorkerOptions {
  /** Reuse this state directory (kept on stop); a fresh temporary one otherwise. */
  persistDir?: string;
  /** Extra `[vars]` for this run, e.g. short leases. */
  vars?: Record<string, string>;
  /** wrangler's output; silent by default. */
  onOutput?: (chunk: string) => void;
}

export interface LocalWorker {
  url: string;
  persistDir: string;
  creds: DemoCredentials;
  /** SIGTERM the whole process group, SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** Stop, then serve the same state again on the same port. */
  restart(): Promise<void>;
  /** Stop and delete a temporary state directory. */
  dispose(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export async function startLocalWorker(options: LocalWorkerOptions = {}): Promise<LocalWorker> {
  const temporary = !options.persistDir;
  const persistDir = options.persistDir ?? mkdtempSync(path.join(tmpdir(), "media-edge-"));
  mkdirSync(persistDir, { recursive: true });
  const persist = ["--persist-to", persistDir];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const creds = freshCredentials(url);

  wranglerSync(["d1", "migrations", "apply", "DB", "--local", ...persist]);
  const seedFile = path.join(persistDir, "seed.sql");
  writeFileSync(seedFile, await seedSql(creds, true), { mode: 0o600 });
  try {
    wranglerSync(["d1", "execute", "DB", "--local", ...persist, "--file", seedFile]);
  } finally {
    rmSync(seedFile, { force: true });
  }

  const vars = {
    JWT_SECRET: randomSecret(32),
    EXCHANGE_SECRET: randomSecret(32),
    ...options.vars,
  };
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(
      process.execPath,
      [
        WRANGLER,
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        ...persist,
        "--show-interactive-dev-session=false",
        ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      ],
      { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...WRANGLER_ENV, CI: "1" } },
    );
    const output = (chunk: Buffer) => options.onOutput?.(chunk.toString());
    child.stdout?.on("data", output);
    child.stderr?.on("data", output);
    await waitHealthy(url, child);
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running?.pid || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    process.kill(-running.pid, "SIGTERM");
    const timer = setTimeout(() => running.pid && process.kill(-running.pid, "SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    url,
    persistDir,
    creds,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      if (temporary) rmSync(persistDir, { recursive: true, force: true });
    },
  };
}

/** Polls /health until the Worker answers; fails fast if wrangler exits. */
async function waitHealthy(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Worker at ${url} not healthy after ${timeoutMs} ms`);
}
