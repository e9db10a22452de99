/**
 * End-to-end harness, in Node: a real local Worker (wrangler dev over its own
 * persisted state, scripts/lib/local-worker.ts), real GPU bridge processes
 * whose JSON log lines the tests wait on, and an operator who dispatches
 * through the admin routes and waits on the task's own event stream.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { type LocalWorker, ROOT } from "../../scripts/lib/local-worker";

export interface LogLine {
  event: string;
  job_id?: string;
  agent_id?: string;
  [key: string]: unknown;
}

export interface BridgeProcess {
  name: string;
  child: ChildProcess;
  lines: LogLine[];
  /** Resolves with the first line (already seen or to come) that matches. */
  waitFor(event: string, match?: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number | null>;
}

export function startBridge(worker: LocalWorker, name: string, env: Record<string, string> = {}): BridgeProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "gpu-bridge/src/cli.ts", "run"], {
    cwd: ROOT,
    env: {
      ...process.env,
      MEDIA_EDGE_URL: worker.url,
      GPU_BRIDGE_TOKEN: worker.creds.agent_token,
      GPU_BRIDGE_NAME: name,
      GPU_BRIDGE_LOG: "json",
      GPU_BRIDGE_WAIT_S: "5",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  const listeners = new Set<(line: LogLine) => void>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    lines.push(line);
    for (const listener of [...listeners]) listener(line);
  });
  child.stderr?.resume();
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    name,
    child,
    lines,
    exited,
    waitFor(event, match = () => true, timeoutMs = 45_000) {
      const seen = lines.find((line) => line.event === event && match(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`${name}: no ${event} within ${timeoutMs} ms; saw ${lines.map((l) => l.event).join(", ")}`));
        }, timeoutMs);
        const listener = (line: LogLine) => {
          if (line.event !== event || !match(line)) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(line);
        };
        listeners.add(listener);
      });
    },
  };
}

export async function stopBridge(bridge: BridgeProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (bridge.child.exitCode !== null || bridge.child.signalCode !== null) return;
  bridge.child.kill(signal);
  await bridge.exited;
}

export interface TaskRecord {
  task_id: string;
  status: string;
  error: { code: string; message: string } | null;
  jobs: {
    job_id: string;
    status: string;
    attempts: number;
    agent_id: string | null;
    result: { facts?: Record<string, unknown> } | null;
    outputs: { kind: string; ref: string; url: string; size_bytes: number }[];
    error: { code: string } | null;
  }[];
}

export class Operator {
  private constructor(
    private readonly worker: LocalWorker,
    private readonly cookie: string,
  ) {}

  static async signIn(worker: LocalWorker): Promise<Operator> {
    const response = await fetch(`${worker.url}/admin/session`, {
      method: "POST",
      headers: { "x-admin-key": worker.creds.admin_key },
    });
    if (response.status !== 200) throw new Error(`admin session: ${response.status}`);
    return new Operator(worker, (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "");
  }

  async upload(file: string, contentType = "video/mp4"): Promise<string> {
    const body = readFileSync(file);
    const response = await this.fetch("/admin/artifacts", {
      method: "POST",
      body,
      headers: { "content-type": contentType },
    });
    return ((await this.json(response, 201)) as { artifact_id: string }).artifact_id;
  }

  dispatchFacts(artifactId: string): Promise<{ taskId: string; jobId: string }> {
    return this.dispatch("extract_facts", { source: artifactId });
  }

  async dispatch(
    jobType: string,
    inputs: Record<string, string>,
    params: Record<string, unknown> = {},
  ): Promise<{ taskId: string; jobId: string }> {
    const response = await this.fetch("/admin/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ job_type: jobType, inputs, params }),
    });
    const body = (await this.json(response, 201)) as { task_id: string; job_ids: string[] };
    return { taskId: body.task_id, jobId: body.job_ids[0] as string };
  }

  /** Downloads an output (GET /admin/artifacts/{id}) into `file`; returns its content type. */
  async download(url: string, file: string): Promise<string> {
    const response = await this.fetch(url);
    if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
    writeFileSync(file, new Uint8Array(await response.arrayBuffer()));
    return response.headers.get("content-type") ?? "";
  }

  async task(taskId: string): Promise<TaskRecord> {
    return (await this.json(await this.fetch(`/admin/tasks/${taskId}`), 200)) as TaskRecord;
  }

  /** Waits on the task's event stream (long-polls) until it is done or failed. */
  async finished(taskId: string, timeoutMs = 45_000): Promise<TaskRecord> {
    const deadline = Date.now() + timeoutMs;
    let after = 0;
    for (;;) {
      const task = await this.task(taskId);
      if (task.status === "done" || task.status === "failed") return task;
      if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task.status}: ${JSON.stringify(task)}`);
      try {
        const response = await this.fetch(`/admin/tasks/${taskId}/events?after=${after}&wait=5`);
        after = ((await this.json(response, 200)) as { state: { last_seq: number } }).state.last_seq;
      } catch {
        // The Worker may be restarting under this test; ask again.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** Any admin route: its JSON answer, which must come with `status`. */
  async admin(pathname: string, status: number, init: RequestInit = {}): Promise<unknown> {
    return this.json(await this.fetch(pathname, init), status);
  }

  private fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("cookie", this.cookie);
    return fetch(`${this.worker.url}${pathname}`, { ...init, headers });
  }

  private async json(response: Response, status: number): Promise<unknown> {
    const text = await response.text();
    if (response.status !== status) throw new Error(`${response.url}: ${response.status} ${text}`);
    return JSON.parse(text);
  }
}

/** A real 2 s 320x240 25 fps H.264 + AAC clip, made with ffmpeg. */
export function makeClip(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "media-edge-e2e-")), "clip.mp4");
  execFileSync(
    "ffmpeg",
    [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=320x240:rate=25:duration=2",
      "-f",
      "lavfi",
      "-i",
      "sine=frequency=440:duration=2",
      "-c:v",
      "libx264",
      "-pix_fmt",
      "yuv420p",
      "-c:a",
      "aac",
      "-shortest",
      file,
    ],
    { stdio: "ignore" },
  );
  return file;
}
