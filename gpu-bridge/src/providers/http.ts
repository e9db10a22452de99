/**
 * HTTP for remote providers (and the remote TTS): JSON or multipart requests
 * whose failures become JobErrors with the right `retryable` (a refused token
 * or a rejected input will fail the same way next time; throttling and server
 * errors may not), retries of throttled requests that honour Retry-After, and
 * bodies streamed to the scratch dir with a size cap.
 */
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { JobError } from "../errors";
import { abortReason, backoffDelay, sleep } from "../retry";

export interface RequestOptions {
  /** Provider name, for messages ("replicate answered 422: ..."). */
  provider: string;
  signal: AbortSignal;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as multipart/form-data instead of `body` (file uploads). */
  form?: FormData;
  /**
   * Also retry 5xx and network errors. Only for requests that are safe to
   * repeat (a GET, a cancel): repeating a create after a 5xx could start the
   * same paid generation twice. 429 is always retried: it was not accepted.
   */
  idempotent?: boolean;
  maxAttempts?: number;
}

const BACKOFF = { baseMs: 250, maxMs: 5000 };
/** A Retry-After longer than this is not waited out here: the job fails as retryable instead. */
const MAX_RETRY_AFTER_MS = 60_000;
const DEFAULT_ATTEMPTS = 4;
const MAX_DOWNLOAD_BYTES = 2 * 1024 ** 3;

export async function requestJson(url: string, options: RequestOptions): Promise<unknown> {
  const { signal, maxAttempts = DEFAULT_ATTEMPTS } = options;
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptOnce(url, options).catch((error: unknown) => {
      throw signal.aborted ? abortReason(signal) : error;
    });
    if (outcome.ok) return outcome.body;
    if (!outcome.retry || attempt >= maxAttempts || outcome.waitMs > MAX_RETRY_AFTER_MS) throw outcome.error;
    if (!(await sleep(Math.max(outcome.waitMs, backoffDelay(attempt - 1, BACKOFF)), signal))) throw abortReason(signal);
  }
}

type Outcome = { ok: true; body: unknown } | { ok: false; error: JobError; retry: boolean; waitMs: number };

async function attemptOnce(url: string, options: RequestOptions): Promise<Outcome> {
  const { provider, signal, method = "GET", idempotent = method === "GET" } = options;
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  if (options.body !== undefined && !options.form) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: options.form ?? JSON.stringify(options.body), signal });
  } catch (error) {
    if (signal.aborted) throw error;
    const unreachable = new JobError("provider_unreachable", `${provider} did not answer: ${describe(error)}`, true);
    return { ok: false, error: unreachable, retry: idempotent, waitMs: 0 };
  }
  const text = await response.text();
  // Some routes (ComfyUI's /interrupt, /queue) answer 200 with no body at all.
  if (response.ok) return { ok: true, body: text ? parseJson(text, provider) : null };
  const error = httpError(provider, response.status, errorDetail(text));
  const retry = response.status === 429 || (idempotent && error.retryable);
  return { ok: false, error, retry, waitMs: retryAfterMs(response.headers.get("retry-after")) ?? 0 };
}

/** The JobError for a non-2xx answer: only throttling, timeouts and server errors are worth another attempt. */
function httpError(provider: string, status: number, detail: string): JobError {
  const said = detail ? `: ${detail}` : "";
  if (status === 401 || status === 403) {
    return new JobError("provider_auth", `${provider} refused the credentials (${status})${said}`, false);
  }
  if (status === 404) return new JobError("provider_not_found", `${provider} answered 404${said}`, false);
  if (status === 429)
    return new JobError("provider_rate_limited", `${provider} is throttling requests (429)${said}`, true);
  if (status === 408 || status >= 500)
    return new JobError("provider_error", `${provider} failed (${status})${said}`, true);
  return new JobError("provider_rejected", `${provider} rejected the request (${status})${said}`, false);
}

/**
 * Saves a provider's output file: an http(s) URL (streamed, capped) or a
 * data: URL. Credentials only go where the caller says (`headers`): a
 * Replicate output lives on a CDN that needs none; ComfyUI's /view is on the
 * configured host.
 */
export async function download(
  url: string,
  file: string,
  provider: string,
  signal: AbortSignal,
  headers: Record<string, string> = {},
): Promise<void> {
  const parsed = safeUrl(url);
  if (parsed?.protocol === "data:") {
    const match = /^data:[^,]*?(;base64)?,(.*)$/s.exec(url);
    if (!match) throw new JobError("provider_bad_output", `${provider} returned a malformed data: URL`, true);
    const payload = match[2] ?? "";
    await writeFile(file, match[1] ? Buffer.from(payload, "base64") : Buffer.from(decodeURIComponent(payload)));
    return;
  }
  if (parsed?.protocol !== "https:" && parsed?.protocol !== "http:") {
    throw new JobError("provider_bad_output", `${provider} returned an output that is not an http(s) URL`, true);
  }
  let response: Response;
  try {
    response = await fetch(parsed, { signal, headers });
  } catch (error) {
    if (signal.aborted) throw abortReason(signal);
    throw new JobError("provider_unreachable", `downloading ${provider}'s output failed: ${describe(error)}`, true);
  }
  if (!response.ok || !response.body) {
    // The output is already paid for; a failed download is worth another attempt whatever the status.
    const error = httpError(provider, response.status, errorDetail(await response.text()));
    throw new JobError("provider_download_failed", `downloading the output: ${error.message}`, true);
  }
  try {
    const tooLarge = () => new Error(`${provider}'s output exceeds ${MAX_DOWNLOAD_BYTES} bytes`);
    await saveBody(response.body, file, { maxBytes: MAX_DOWNLOAD_BYTES, signal, tooLarge });
  } catch (error) {
    if (signal.aborted) throw abortReason(signal);
    throw new JobError("provider_download_failed", `downloading ${provider}'s output failed: ${describe(error)}`, true);
  }
}

/** Streams a response body into `file`, failing with `tooLarge()` once more than `maxBytes` have arrived. */
export async function saveBody(
  body: ReadableStream<Uint8Array>,
  file: string,
  options: { maxBytes: number; signal: AbortSignal; tooLarge: () => Error },
): Promise<void> {
  let bytes = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(bytes > options.maxBytes ? options.tooLarge() : null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(body), cap, createWriteStream(file), { signal: options.signal });
}

/** Retry-After in ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * The human part of an error body: RFC 9457 `detail`/`title`, `error` (or
 * its `message` and `details`, as ComfyUI and OpenAI nest them), `message`,
 * or the text itself; one line, at most 300 characters.
 */
export function errorDetail(text: string): string {
  let detail = text.trim();
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === "object") {
      const fields = body as Record<string, unknown>;
      const error = fields.error;
      // ComfyUI nests {message, details} under `error`.
      const nested = error && typeof error === "object" ? (error as Record<string, unknown>) : {};
      const nestedText = [nested.message, nested.details].filter((v) => typeof v === "string" && v).join(": ");
      const found = [fields.detail, fields.title, error, nestedText, fields.message].find(
        (v) => typeof v === "string" && v,
      );
      if (typeof found === "string") detail = found;
    }
  } catch {
    // Not JSON: the text is the message.
  }
  return detail.replace(/\s+/g, " ").slice(0, 300);
}

function parseJson(text: string, provider: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new JobError("provider_error", `${provider} answered with something that is not JSON`, true);
  }
}

function safeUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return message + cause;
}
