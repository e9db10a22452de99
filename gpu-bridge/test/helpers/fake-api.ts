/**
 * A small in-process stand-in for the Worker's agent API (node:http), with the
 * lease rules of docs/job-engine.md: atomic claim, growing lock tokens,
 * heartbeats and submits checked against the current token, idempotent
 * submit. Tests script failures per route with `override` and wait on
 * requests with `waitFor`, never on time.
 */
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import type { Job, JobOutcome, ServerPolicy } from "../../../worker/contracts/agent-protocol";

export const TEST_TOKEN = "test-agent-token";

export type Route = "health" | "register" | "list" | "claim" | "heartbeat" | "submit" | "fail" | "input";

export interface Recorded {
  route: Route | "unknown";
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
  at: number;
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | "destroy";
/** Return a reply to replace the default behaviour for this call, or undefined to keep it. `call` counts from 1. */
export type Override = (request: Recorded, call: number) => Reply | undefined;

interface FakeJob {
  job: Job;
  inputs: Map<string, Buffer>;
  lockToken: string | null;
  outcome: JobOutcome | null;
  result: unknown;
}

const ROUTES: [Route, string, RegExp][] = [
  ["health", "GET", /^\/health$/],
  ["register", "POST", /^\/api\/v1\/agents\/register$/],
  ["list", "GET", /^\/api\/v1\/jobs$/],
  ["claim", "POST", /^\/api\/v1\/jobs\/([^/]+)\/claim$/],
  ["heartbeat", "POST", /^\/api\/v1\/jobs\/([^/]+)\/heartbeat$/],
  ["submit", "POST", /^\/api\/v1\/jobs\/([^/]+)\/submit$/],
  ["fail", "POST", /^\/api\/v1\/jobs\/([^/]+)\/fail$/],
  ["input", "GET", /^\/api\/v1\/jobs\/([^/]+)\/inputs\/([^/]+)$/],
];

export function errorBody(code: string, message: string, retryable = false) {
  return { code, message, retryable, correlation_id: randomUUID() };
}

/** A pending extract_facts job as GET /jobs lists it, reading these inputs. */
export function newJob(inputs: Record<string, Buffer>): Job {
  const jobId = randomUUID();
  return {
    job_id: jobId,
    job_type: "extract_facts",
    asset_uuid: null,
    lock_token: null,
    locked_until: null,
    paths: {},
    derived_target_dir: null,
    task_id: randomUUID(),
    status: "pending",
    required_capabilities: ["media.facts@1"],
    params: {},
    inputs: Object.entries(inputs).map(([name, bytes]) => ({
      name,
      url: `/api/v1/jobs/${jobId}/inputs/${name}`,
      content_type: "application/octet-stream",
      size_bytes: bytes.length,
    })),
    attempt: 0,
    max_attempts: 3,
    created_at: new Date().toISOString(),
  };
}

export class FakeAgentApi {
  readonly requests: Recorded[] = [];
  readonly jobs = new Map<string, FakeJob>();
  readonly overrides: Partial<Record<Route, Override>> = {};
  policy: ServerPolicy = {
    min_poll_interval_seconds: 0,
    max_parallel_jobs_allowed: 8,
    allowed_job_types: ["extract_facts"],
    lease_seconds: 60,
    heartbeat_interval_seconds: 0.05,
    max_wait_seconds: 25,
  };
  private nextToken = 0;
  private readonly calls = new Map<Route, number>();
  private waiters: { match: (r: Recorded) => boolean; resolve: (r: Recorded) => void }[] = [];
  private jobAdded: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(port = 0): Promise<FakeAgentApi> {
    let api: FakeAgentApi | undefined;
    const server = createServer((req, res) => {
      void api?.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const address = server.address() as AddressInfo;
    api = new FakeAgentApi(server, `http://127.0.0.1:${address.port}`);
    return api;
  }

  /** Queues a pending extract_facts job whose inputs are these bytes. */
  addJob(inputs: Record<string, Buffer> = { source: Buffer.from("media") }): Job {
    const job = newJob(inputs);
    this.jobs.set(job.job_id, {
      job,
      inputs: new Map(Object.entries(inputs)),
      lockToken: null,
      outcome: null,
      result: null,
    });
    for (const wake of this.jobAdded.splice(0)) wake();
    return job;
  }

  job(jobId: string): FakeJob {
    const found = this.jobs.get(jobId);
    if (!found) throw new Error(`no job ${jobId}`);
    return found;
  }

  override(route: Route, override: Override): void {
    this.overrides[route] = override;
  }

  of(route: Route): Recorded[] {
    return this.requests.filter((r) => r.route === route);
  }

  /** The first request (already seen or still to come) matching. */
  waitFor(match: (r: Recorded) => boolean): Promise<Recorded> {
    const seen = this.requests.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  async close(): Promise<void> {
    for (const wake of this.jobAdded.splice(0)) wake();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const found = ROUTES.find(([, method, pattern]) => method === req.method && pattern.test(url.pathname));
    const route = found?.[0] ?? "unknown";
    const params = found ? (found[2].exec(url.pathname)?.slice(1) ?? []) : [];
    const recorded: Recorded = {
      route,
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
      at: Date.now(),
    };
    this.requests.push(recorded);
    for (const waiter of this.waiters.filter((w) => w.match(recorded))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(recorded);
    }
    if (route === "unknown") return send(res, { status: 404, body: errorBody("NOT_FOUND", "no route") });
    const call = (this.calls.get(route) ?? 0) + 1;
    this.calls.set(route, call);
    const scripted = this.overrides[route]?.(recorded, call);
    if (scripted) return send(res, scripted);
    if (route !== "health" && req.headers.authorization !== `Bearer ${TEST_TOKEN}`) {
      return send(res, { status: 401, body: errorBody("UNAUTHORIZED", "bad token") });
    }
    send(res, await this.respond(route, recorded, params, req));
  }

  private async respond(
    route: Route,
    request: Recorded,
    [jobId = "", inputName = ""]: string[],
    req: IncomingMessage,
  ): Promise<Reply> {
    const body = z.record(z.string(), z.unknown()).catch({}).parse(request.body);
    switch (route) {
      case "health":
        return { status: 200, body: { ok: true } };
      case "register":
        return { status: 201, body: { agent_id: randomUUID(), server_policy: this.policy } };
      case "list": {
        const limit = Number(request.query.get("limit") ?? 20);
        const wait = Number(request.query.get("wait") ?? 0);
        if (this.pending().length === 0 && wait > 0) await this.untilJobAdded(wait * 1000, req);
        return { status: 200, body: this.pending().slice(0, limit) };
      }
      case "claim": {
        const fake = this.jobs.get(jobId);
        if (fake?.job.status !== "pending") return conflict();
        fake.lockToken = String(++this.nextToken);
        fake.job = { ...fake.job, status: "claimed", attempt: fake.job.attempt + 1 };
        return { status: 200, body: { ...fake.job, lock_token: fake.lockToken, locked_until: this.leaseEnd() } };
      }
      case "heartbeat": {
        const fake = this.held(jobId, body.lock_token);
        if (!fake) return lockInvalid();
        return { status: 200, body: { job_id: jobId, locked_until: this.leaseEnd() } };
      }
      case "submit": {
        const fake = this.jobs.get(jobId);
        if (fake?.outcome && fake.job.status === "completed" && fake.lockToken === body.lock_token) {
          return { status: 200, body: fake.outcome };
        }
        if (!fake || !this.held(jobId, body.lock_token)) return lockInvalid();
        fake.result = body.result;
        return { status: 200, body: this.finish(fake, "completed", null) };
      }
      case "fail": {
        const fake = this.held(jobId, body.lock_token);
        if (!fake) return lockInvalid();
        const retryable = body.retryable === true;
        return { status: 200, body: this.finish(fake, retryable ? "pending" : "failed", String(body.error_code)) };
      }
      case "input": {
        const fake = this.held(jobId, request.headers["x-lock-token"]);
        if (!fake) return lockInvalid();
        const bytes = fake.inputs.get(inputName);
        if (!bytes) return { status: 404, body: errorBody("NOT_FOUND", "no such input") };
        return { status: 200, body: bytes, headers: { "content-type": "application/octet-stream" } };
      }
    }
  }

  private pending(): Job[] {
    return [...this.jobs.values()].filter((f) => f.job.status === "pending").map((f) => f.job);
  }

  private held(jobId: string, token: unknown): FakeJob | undefined {
    const fake = this.jobs.get(jobId);
    return fake && fake.job.status === "claimed" && fake.lockToken === token ? fake : undefined;
  }

  private finish(fake: FakeJob, status: Job["status"], errorCode: string | null): JobOutcome {
    fake.job = { ...fake.job, status };
    // A failed attempt put back to pending is a fresh job for the next claim: its old token is void.
    if (status === "pending") fake.lockToken = null;
    fake.outcome = {
      job_id: fake.job.job_id,
      task_id: fake.job.task_id,
      status,
      attempt: fake.job.attempt,
      retry_at: status === "pending" ? new Date().toISOString() : null,
      error_code: errorCode,
    };
    return fake.outcome;
  }

  private leaseEnd(): string {
    return new Date(Date.now() + this.policy.lease_seconds * 1000).toISOString();
  }

  private untilJobAdded(ms: number, req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.jobAdded.push(done);
      req.socket.once("close", done);
    });
  }
}

function conflict(): Reply {
  return { status: 409, body: errorBody("STATE_CONFLICT", "job is not claimable") };
}

function lockInvalid(): Reply {
  return { status: 423, body: errorBody("LOCK_INVALID", "lease is not valid") };
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply === "destroy") {
    res.socket?.destroy();
    return;
  }
  const headers = { ...reply.headers };
  if (Buffer.isBuffer(reply.body)) {
    res.writeHead(reply.status, { ...headers, "content-length": String(reply.body.length) });
    res.end(reply.body);
    return;
  }
  const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
  res.writeHead(reply.status, { "content-type": "application/json", ...headers });
  res.end(text);
}
