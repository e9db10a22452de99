/**
 * The agent API over HTTP (contract 003 §4–5). Every answer is parsed with the
 * Worker's own zod schemas (worker/contracts), so the two sides cannot drift;
 * every failure becomes one of the error kinds in errors.ts. This layer does
 * not retry: callers know whether a call may be repeated and for how long.
 */
import { z } from "zod";
import {
  AGENT_ID_HEADER,
  type Fail,
  type Heartbeat,
  heartbeatAckSchema,
  type Job,
  type JobOutcome,
  jobOutcomeSchema,
  jobSchema,
  LOCK_TOKEN_HEADER,
  type RegisterAgent,
  registeredAgentSchema,
  type Submit,
} from "../../worker/contracts/agent-protocol";
import {
  type ArtifactView,
  artifactSchema,
  type InitUploadBody,
  PART_SHA256_HEADER,
  type UploadView,
  uploadedPartSchema,
  uploadSchema,
} from "../../worker/contracts/uploads";
import { ApiError, FatalError, JobError, NetworkError, ProtocolError } from "./errors";
import { abortReason } from "./retry";

export type RegisteredAgent = z.infer<typeof registeredAgentSchema>;

/** A held lease. `deadline` is on this host's clock: by then the lease has surely ended. */
export interface Lease {
  lockToken: string;
  lockedUntil: string;
  deadline: number;
}

export interface ClaimedJob {
  job: Job;
  lease: Lease;
}

export interface ClientOptions {
  baseUrl: string;
  token: string;
  userAgent: string;
  /** Per call, on top of any long-poll wait. */
  timeoutMs?: number;
}

interface CallOptions {
  method?: "GET" | "POST";
  body?: unknown;
  /** Raw bytes instead of a JSON body. */
  bytes?: Uint8Array;
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

const errorBodySchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean().optional(),
  correlation_id: z.string().optional(),
});

/** Slack added to a long-poll's own wait before we call the request dead. */
const LONG_POLL_SLACK_MS = 15_000;

export class AgentClient {
  /** Sent as X-Agent-Id once registered, so the Worker knows which bridge process is calling. */
  agentId: string | undefined;

  constructor(private readonly options: ClientOptions) {}

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  async register(body: RegisterAgent, signal?: AbortSignal): Promise<RegisteredAgent> {
    const response = await this.call("/api/v1/agents/register", { method: "POST", body, signal });
    return parseBody(response, registeredAgentSchema, "register");
  }

  /**
   * Claimable jobs, waiting up to `wait` seconds for one. Jobs are parsed one
   * by one: an entry this bridge does not understand (a job type added to a
   * newer Worker) is reported in `rejected` instead of hiding the others.
   */
  async listJobs(
    query: { wait: number; limit: number },
    signal?: AbortSignal,
  ): Promise<{ jobs: Job[]; rejected: string[] }> {
    const path = `/api/v1/jobs?wait=${query.wait}&limit=${query.limit}`;
    const response = await this.call(path, { signal, timeoutMs: query.wait * 1000 + LONG_POLL_SLACK_MS });
    const entries = await parseBody(response, z.array(z.unknown()), "list jobs");
    const jobs: Job[] = [];
    const rejected: string[] = [];
    for (const entry of entries) {
      const parsed = jobSchema.safeParse(entry);
      if (parsed.success) jobs.push(parsed.data);
      else rejected.push(z.prettifyError(parsed.error));
    }
    return { jobs, rejected };
  }

  async claim(jobId: string, signal?: AbortSignal): Promise<ClaimedJob> {
    const sentAt = Date.now();
    const response = await this.call(`/api/v1/jobs/${jobId}/claim`, { method: "POST", body: {}, signal });
    const job = await parseBody(response, jobSchema, "claim");
    if (job.lock_token === null || job.locked_until === null) throw new ProtocolError("claim answered without a lease");
    const lease = {
      lockToken: job.lock_token,
      lockedUntil: job.locked_until,
      deadline: localDeadline(job.locked_until, sentAt, response),
    };
    return { job, lease };
  }

  /** Extends the lease; answers the new `locked_until` and its local deadline. */
  async heartbeat(
    jobId: string,
    body: Heartbeat,
    signal?: AbortSignal,
  ): Promise<{ lockedUntil: string; deadline: number }> {
    const sentAt = Date.now();
    const response = await this.call(`/api/v1/jobs/${jobId}/heartbeat`, { method: "POST", body, signal });
    const ack = await parseBody(response, heartbeatAckSchema, "heartbeat");
    return { lockedUntil: ack.locked_until, deadline: localDeadline(ack.locked_until, sentAt, response) };
  }

  async submit(jobId: string, body: Submit, signal?: AbortSignal): Promise<JobOutcome> {
    const response = await this.call(`/api/v1/jobs/${jobId}/submit`, { method: "POST", body, signal });
    return parseBody(response, jobOutcomeSchema, "submit");
  }

  async fail(jobId: string, body: Fail, signal?: AbortSignal): Promise<JobOutcome> {
    const response = await this.call(`/api/v1/jobs/${jobId}/fail`, { method: "POST", body, signal });
    return parseBody(response, jobOutcomeSchema, "fail");
  }

  /** Opens an upload of one of the job's outputs (the chunked upload API). */
  async initOutput(
    jobId: string,
    body: InitUploadBody & { kind: string; lock_token: string },
    signal?: AbortSignal,
  ): Promise<UploadView> {
    const response = await this.call(`/api/v1/jobs/${jobId}/outputs/init`, { method: "POST", body, signal });
    return parseBody(response, uploadSchema, "output init");
  }

  /** One part's bytes; the Worker refuses it unless its length and SHA-256 are right. */
  async putOutputPart(
    jobId: string,
    part: { uploadId: string; number: number; bytes: Uint8Array; sha256: string; lockToken: string },
    signal?: AbortSignal,
  ): Promise<void> {
    const query = `upload_id=${part.uploadId}&part_number=${part.number}`;
    const response = await this.call(`/api/v1/jobs/${jobId}/outputs/part?${query}`, {
      method: "POST",
      bytes: part.bytes,
      signal,
      timeoutMs: 120_000,
      headers: {
        [LOCK_TOKEN_HEADER]: part.lockToken,
        [PART_SHA256_HEADER]: part.sha256,
        "content-type": "application/octet-stream",
      },
    });
    await parseBody(response, uploadedPartSchema, "output part");
  }

  async completeOutput(
    jobId: string,
    body: { upload_id: string; lock_token: string },
    signal?: AbortSignal,
  ): Promise<ArtifactView> {
    // Completion reads the whole object back to verify it: allow for large files.
    const response = await this.call(`/api/v1/jobs/${jobId}/outputs/complete`, {
      method: "POST",
      body,
      signal,
      timeoutMs: 300_000,
    });
    return parseBody(response, artifactSchema, "output complete");
  }

  /**
   * Opens an input for streaming. Input URLs are same-origin paths; one that
   * resolves to another origin is refused so the token never leaves the Worker.
   */
  async openInput(url: string, lockToken: string, signal?: AbortSignal): Promise<Response> {
    const target = new URL(url, this.options.baseUrl);
    if (target.origin !== new URL(this.options.baseUrl).origin) {
      throw new JobError("input_url_invalid", `input URL ${url} is not on the Worker's origin`, false);
    }
    // No overall timeout: a large input may take long; the job's abort signal bounds it.
    return this.call(target.pathname + target.search, {
      signal,
      timeoutMs: 0,
      // Media does not compress; asking for identity keeps Content-Length meaningful.
      headers: { [LOCK_TOKEN_HEADER]: lockToken, accept: "*/*", "accept-encoding": "identity" },
    });
  }

  /** One HTTP call: 2xx returns the response, anything else throws a typed error. */
  private async call(path: string, options: CallOptions): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.token}`,
      accept: "application/json",
      "user-agent": this.options.userAgent,
      ...options.headers,
    };
    if (this.agentId) headers[AGENT_ID_HEADER] = this.agentId;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [options.signal, timeout].filter((signal): signal is AbortSignal => signal !== undefined);
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl}${path}`, {
        method: options.method ?? "GET",
        headers,
        body: options.bytes ?? (options.body === undefined ? null : JSON.stringify(options.body)),
        signal: signals.length > 0 ? AbortSignal.any(signals) : null,
      });
    } catch (error) {
      if (options.signal?.aborted) throw abortReason(options.signal);
      if (timeout?.aborted) throw new NetworkError(`${path}: no answer within ${timeoutMs} ms`);
      throw new NetworkError(`${path}: ${describeFetchError(error)}`);
    }
    if (response.ok) return response;
    throw await apiError(path, response);
  }
}

async function apiError(path: string, response: Response): Promise<Error> {
  const text = await response.text().catch(() => "");
  const body = errorBodySchema.safeParse(safeJson(text));
  const code = body.success ? body.data.code : `HTTP_${response.status}`;
  const message = body.success ? body.data.message : text.slice(0, 200) || response.statusText;
  if (response.status === 401) {
    return new FatalError(`the Worker refused the agent token (401 ${code}: ${message}); check GPU_BRIDGE_TOKEN`);
  }
  return new ApiError(
    response.status,
    code,
    `${path}: ${response.status} ${code}: ${message}`,
    body.success ? (body.data.retryable ?? false) : false,
    retryAfterMs(response.headers.get("retry-after")),
    body.success ? body.data.correlation_id : undefined,
  );
}

async function parseBody<T>(response: Response, schema: z.ZodType<T>, what: string): Promise<T> {
  let json: unknown;
  try {
    json = await response.json();
  } catch (error) {
    throw new NetworkError(`${what}: unreadable answer (${describeFetchError(error)})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ProtocolError(`${what}: answer does not match the agent protocol: ${parsed.error}`);
  return parsed.data;
}

/**
 * Converts the server's `locked_until` into this host's clock without trusting
 * the two clocks to agree: the lease length is measured against the answer's
 * Date header (whole seconds, hence the second taken off) and counted from
 * when we sent the request, which is before the server started the lease.
 */
export function localDeadline(lockedUntil: string, sentAt: number, response: Response): number {
  const serverNow = Date.parse(response.headers.get("date") ?? "");
  const leaseMs = Number.isNaN(serverNow)
    ? Date.parse(lockedUntil) - Date.now()
    : Date.parse(lockedUntil) - serverNow - 1000;
  return sentAt + Math.max(0, leaseMs);
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** undici hides the useful part (ECONNREFUSED, ...) in `cause`. */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = cause && "code" in cause && typeof cause.code === "string" ? cause.code : undefined;
  return code ? `${error.message} (${code})` : cause ? `${error.message} (${cause.message})` : error.message;
}
