/**
 * Downloads a job's inputs into its scratch dir, streamed to disk (media can
 * be far larger than memory). The lease rides along in X-Lock-Token; a stalled
 * transfer is cut after IDLE_MS without a byte, and transient failures are
 * retried a few times before the job is failed as retryable.
 */
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { JobInput } from "../../worker/contracts/agent-protocol";
import type { AgentClient } from "./client";
import { ApiError, FatalError, isLeaseLost, isTransient, JobError, LeaseLostError, NetworkError } from "./errors";
import { isSystemError } from "./failure";
import { type Backoff, backoffDelay, sleep } from "./retry";

const IDLE_MS = 60_000;
const ATTEMPTS = 3;

export interface DownloadOptions {
  client: AgentClient;
  lockToken: string;
  dir: string;
  signal: AbortSignal;
  backoff: Backoff;
  onBytes?: (received: number, total: number | null) => void;
}

export async function downloadInput(input: JobInput, options: DownloadOptions): Promise<string> {
  const file = path.join(options.dir, safeFileName(input.name));
  for (let attempt = 0; ; attempt++) {
    try {
      await downloadOnce(input, file, options);
      return file;
    } catch (error) {
      await rm(file, { force: true });
      if (options.signal.aborted) throw error;
      const mapped = mapError(input, error);
      if (!(mapped instanceof JobError && mapped.retryable) || attempt + 1 >= ATTEMPTS) throw mapped;
      if (!(await sleep(backoffDelay(attempt, options.backoff), options.signal))) throw error;
    }
  }
}

async function downloadOnce(input: JobInput, file: string, options: DownloadOptions): Promise<void> {
  const idle = new AbortController();
  const signal = AbortSignal.any([options.signal, idle.signal]);
  let idleTimer = setTimeout(() => idle.abort(new NetworkError(`no data for ${IDLE_MS} ms`)), IDLE_MS);
  const touch = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => idle.abort(new NetworkError(`no data for ${IDLE_MS} ms`)), IDLE_MS);
  };
  try {
    const response = await options.client.openInput(input.url, options.lockToken, signal);
    if (!response.body) throw new NetworkError("input answered without a body");
    // Content-Length counts encoded bytes; it only says how many to expect when nothing was encoded.
    const header = response.headers.has("content-encoding") ? null : response.headers.get("content-length");
    const expected = header === null ? null : Number(header);
    let received = 0;
    await pipeline(
      Readable.fromWeb(response.body),
      async function* count(source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          received += chunk.length;
          touch();
          options.onBytes?.(received, expected ?? (input.size_bytes || null));
          yield chunk;
        }
      },
      createWriteStream(file, { flags: "wx" }),
      { signal },
    );
    if (expected !== null && received !== expected) {
      throw new NetworkError(`input ended after ${received} of ${expected} bytes`);
    }
    if (input.size_bytes > 0 && received !== input.size_bytes) {
      throw new JobError("input_size_mismatch", `input has ${received} bytes, the job says ${input.size_bytes}`, true);
    }
  } catch (error) {
    if (idle.signal.aborted && !options.signal.aborted) throw idle.signal.reason;
    throw error;
  } finally {
    clearTimeout(idleTimer);
  }
}

/** What a failed download means for the job. */
function mapError(input: JobInput, error: unknown): unknown {
  if (error instanceof FatalError || error instanceof JobError || error instanceof LeaseLostError) return error;
  if (isLeaseLost(error)) return new LeaseLostError(`input ${input.name}: ${error.message}`);
  if (error instanceof ApiError && (error.status === 404 || error.status === 410)) {
    return new JobError("input_missing", `input ${input.name} is gone (${error.status} ${error.code})`, false);
  }
  const detail = error instanceof Error ? error.message : String(error);
  const retryable = isTransient(error) || isSystemError(error);
  return new JobError("input_download_failed", `input ${input.name}: ${detail}`, retryable);
}

/** Input names come from the server; keep them to one plain path segment inside the scratch dir. */
export function safeFileName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return `input-${cleaned.slice(0, 64) || "unnamed"}`;
}
