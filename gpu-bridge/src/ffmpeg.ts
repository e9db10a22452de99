/**
 * Spawning ffmpeg-family tools. A run is tied to its job's abort signal: when
 * the lease is lost or the bridge stops, the child gets SIGTERM, then SIGKILL
 * if it lingers, and the returned promise settles only once the child has
 * exited, so a job's scratch dir is never removed under a live process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { JobError } from "./errors";
import { abortReason } from "./retry";

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ToolOptions {
  signal?: AbortSignal | undefined;
  /** Kill the tool after this long (0 = no limit). */
  timeoutMs?: number;
  /** Output kept per stream; the rest is dropped (ffmpeg can log without end). */
  maxOutputBytes?: number;
  /** Each chunk of stdout as it arrives (ffmpeg's `-progress` lines, or raw samples). */
  onStdout?: (chunk: Buffer) => void;
  /** For tests and diagnostics: the child, once spawned. */
  onSpawn?: (child: ChildProcess) => void;
}

/** The tool is not installed (or not on PATH). */
export class ToolMissingError extends Error {
  override readonly name = "ToolMissingError";
}

export class ToolTimeoutError extends Error {
  override readonly name = "ToolTimeoutError";
}

const KILL_GRACE_MS = 2000;

export function runTool(command: string, args: readonly string[], options: ToolOptions = {}): Promise<ToolResult> {
  const { signal, timeoutMs = 0, maxOutputBytes = 8 * 1024 * 1024 } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    options.onSpawn?.(child);
    if (options.onStdout) child.stdout.on("data", options.onStdout);
    const stdout = collect(child.stdout, maxOutputBytes);
    const stderr = collect(child.stderr, maxOutputBytes);
    let stopReason: unknown;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = (reason: unknown) => {
      if (stopReason !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      stopReason = reason;
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    };
    const onAbort = () => stop(signal ? abortReason(signal) : new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    const timeout =
      timeoutMs > 0
        ? setTimeout(() => stop(new ToolTimeoutError(`${command} ran longer than ${timeoutMs} ms`)), timeoutMs)
        : undefined;

    const settle = () => {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timeout);
      clearTimeout(killTimer);
    };
    child.once("error", (error: NodeJS.ErrnoException) => {
      settle();
      reject(error.code === "ENOENT" ? new ToolMissingError(`${command} is not installed or not on PATH`) : error);
    });
    child.once("close", (code, exitSignal) => {
      settle();
      if (stopReason !== undefined) {
        reject(stopReason);
        return;
      }
      resolve({ code, signal: exitSignal, stdout: stdout(), stderr: stderr(), ms: performance.now() - started });
    });
  });
}

/**
 * runTool for a handler: a missing tool or a timeout is this host's trouble,
 * so it rejects as a retryable JobError (`tool_missing`, or `timeoutCode`)
 * rather than as the raw error.
 */
export async function runHandlerTool(
  command: string,
  args: readonly string[],
  options: ToolOptions & { timeoutCode?: string } = {},
): Promise<ToolResult> {
  try {
    return await runTool(command, args, options);
  } catch (error) {
    if (error instanceof ToolMissingError) throw new JobError("tool_missing", error.message, true);
    if (error instanceof ToolTimeoutError)
      throw new JobError(options.timeoutCode ?? "tool_timeout", error.message, true);
    throw error;
  }
}

/** The first line of `<tool> -version` (or other args), or null when the tool is missing or fails. */
export async function toolVersion(
  command: string,
  signal?: AbortSignal,
  args: readonly string[] = ["-version"],
): Promise<string | null> {
  try {
    const result = await runTool(command, args, { signal, timeoutMs: 10_000 });
    if (result.code !== 0) return null;
    // "ffprobe version 5.1.9 Copyright (c) ..." / "eSpeak NG text-to-speech: 1.51  Data at: ...": keep the version.
    const first = result.stdout.split("\n", 1)[0] ?? "";
    return (
      first
        .replace(/\s+Copyright.*$/, "")
        .split(/\s{2,}/)[0]
        ?.trim() || null
    );
  } catch (error) {
    if (error instanceof ToolMissingError || error instanceof ToolTimeoutError) return null;
    throw error;
  }
}

function collect(stream: NodeJS.ReadableStream, maxBytes: number): () => string {
  const chunks: Buffer[] = [];
  let kept = 0;
  stream.on("data", (chunk: Buffer) => {
    if (kept >= maxBytes) return;
    const part = chunk.subarray(0, maxBytes - kept);
    chunks.push(part);
    kept += part.length;
  });
  return () => Buffer.concat(chunks).toString("utf8");
}
