/**
 * Contract 003 §5, the agent protocol every job type uses:
 *   GET  /api/v1/jobs                      claimable jobs for this agent (?wait= long-polls)
 *   POST /api/v1/jobs/{id}/claim           atomic lease: one winner
 *   POST /api/v1/jobs/{id}/heartbeat       extends the lease, carries progress
 *   POST /api/v1/jobs/{id}/submit          applied once; the same token again replays the answer
 *   POST /api/v1/jobs/{id}/fail            retryable → back to pending with backoff
 *   GET  /api/v1/jobs/{id}/inputs/{name}   (additive) the job's input bytes, for its holder
 * The JobBoard decides; this file translates its answers into 003's codes:
 * 409 STATE_CONFLICT, 423 LOCK_REQUIRED / LOCK_INVALID.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { authenticateCatalog } from "../../auth/catalog";
import { requireScope } from "../../auth/scopes";
import {
  failSchema,
  heartbeatAckSchema,
  heartbeatSchema,
  type Job,
  jobOutcomeSchema,
  jobSchema,
  LOCK_TOKEN_HEADER,
  listJobsQuerySchema,
  submitSchema,
} from "../../contracts/agent-protocol";
import { JOB_TYPES } from "../../contracts/job-types";
import { bridgeHeard } from "../../core/accounts/liveness";
import { boardFor, boardsOf, roomFor } from "../../core/jobs/boards";
import { verifiedManifest } from "../../core/jobs/outputs";
import { rememberJobHome } from "../../core/jobs/records";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors/api-error";
import { errors003 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { callerOf, db } from "../../http/context";
import { router } from "../../http/router";
import { agentOf } from "./agent-caller";
import { holdLease, homeOf, lockTokenOf, refusalError } from "./job-lease";

const tags = ["Jobs (003)"];
const jobIdParam = z.object({ job_id: z.string().uuid() });
const security = [{ Bearer: [] }];

/** GET /api/v1/jobs is shared with contract 004: only a bearer token is an agent's call. */
const agentBearerOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!/^bearer\s/i.test(c.req.header("authorization") ?? "")) {
    throw new ApiError("unauthenticated", "Send an agent bearer token to list claimable jobs");
  }
  await next();
};

export const jobRoutes = router();

jobRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/jobs",
    tags,
    summary: "Claimable jobs for this agent (a plain array); ?wait=N long-polls up to N seconds",
    security,
    middleware: [agentBearerOnly, authenticateCatalog(), requireScope("jobs:claim")] as const,
    request: { query: listJobsQuerySchema },
    responses: {
      200: { content: { "application/json": { schema: z.array(jobSchema) } }, description: "Claimable jobs" },
      401: errors003("UNAUTHORIZED"),
      403: errors003("FORBIDDEN_SCOPE / FORBIDDEN_ACTOR"),
      409: errors003("STATE_CONFLICT: agent not registered"),
    },
  }),
  async (c) => {
    const { wait, limit } = c.req.valid("query");
    const agent = await agentOf(c);
    bridgeHeard(c.env, agent.ref.capacityAccountId, (work) => c.executionCtx.waitUntil(work));
    const boards = boardsOf(c.env, agent.jobTypes);
    const deadline = Date.now() + wait * 1000;
    const answer = (jobs: Job[]) => {
      for (const job of jobs) rememberJobHome({ jobId: job.job_id, taskId: job.task_id, jobType: job.job_type });
      return c.json(jobs, 200);
    };
    for (;;) {
      const jobs = (await Promise.all(boards.map((board) => board.list(agent.ref, limit)))).flat().slice(0, limit);
      const left = deadline - Date.now();
      if (jobs.length > 0 || left <= 0 || boards.length === 0) return answer(jobs);
      // Every board answers when work arrives, with its claimable jobs; the first to answer wins.
      // A board that cannot wait (evicted mid-poll) ends the poll empty; the agent simply polls again.
      const woken = await Promise.race(boards.map((board) => board.waitForWork(agent.ref, left, limit))).catch(
        () => null,
      );
      if (woken === null) return answer([]);
      if (woken.length > 0) return answer(woken);
    }
  },
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/jobs/{job_id}/claim",
    tags,
    summary: "Claim a job: a lease with lock_token and locked_until, or 409 if anyone else has it",
    security,
    middleware: [limitBody(4 * KiB), authenticateCatalog(), requireScope("jobs:claim")] as const,
    request: { params: jobIdParam },
    responses: {
      200: { content: { "application/json": { schema: jobSchema } }, description: "Claimed" },
      404: errors003("NOT_FOUND"),
      409: errors003("STATE_CONFLICT: claimed already, not compatible or not claimable"),
    },
  }),
  async (c) => {
    const { job_id } = c.req.valid("param");
    const [agent, home] = await Promise.all([agentOf(c), homeOf(c, job_id)]);
    if (!agent.jobTypes.includes(home.jobType)) {
      throw new ApiError("state_conflict", `This agent lacks the capabilities ${home.jobType} needs`, {
        details: { required_capabilities: JOB_TYPES[home.jobType].capabilities },
      });
    }
    const claimed = await boardFor(c.env, home.jobType, job_id).claim(job_id, agent.ref);
    if (!claimed.ok) throw refusalError(claimed);
    return c.json(claimed.job, 200);
  },
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/jobs/{job_id}/heartbeat",
    tags,
    summary: "Extend the lease; optional {progress 0..1, stage, message} reach the task's watchers",
    security,
    middleware: [limitBody(8 * KiB), authenticateCatalog(), requireScope("jobs:heartbeat")] as const,
    request: {
      params: jobIdParam,
      body: { content: { "application/json": { schema: heartbeatSchema } }, required: true },
    },
    responses: {
      200: { content: { "application/json": { schema: heartbeatAckSchema } }, description: "Lease extended" },
      409: errors003("STATE_CONFLICT: the job is finished"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const home = await homeOf(c, job_id);
    const lease = await boardFor(c.env, home.jobType, job_id).heartbeat(job_id, lockTokenOf(body.lock_token));
    if (!lease.ok) throw refusalError(lease);
    bridgeHeard(c.env, callerOf(c).principal.capacityAccountId, (work) => c.executionCtx.waitUntil(work));
    // The room hears of the claim from the first heartbeat (contract 003's body is only the
    // token), and of progress whenever a heartbeat carries some.
    const carriesProgress = body.progress !== undefined || body.stage !== undefined || body.message !== undefined;
    if (lease.first || carriesProgress) {
      try {
        await roomFor(c.env, home.taskId).progress(home.taskId, job_id, lease.attempt, body);
      } catch (error) {
        // Progress is best effort; the lease is what the heartbeat is for.
        console.error(JSON.stringify({ level: "warn", progress_dropped: job_id, error: String(error) }));
      }
    }
    return c.json({ job_id, locked_until: new Date(lease.lockedUntil).toISOString() }, 200);
  },
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/jobs/{job_id}/submit",
    tags,
    summary: "Submit the result; applied exactly once, a repeat with the same token replays the answer",
    security,
    middleware: [limitBody(256 * KiB), authenticateCatalog(), requireScope("jobs:submit")] as const,
    request: {
      params: jobIdParam,
      body: { content: { "application/json": { schema: submitSchema } }, required: true },
    },
    responses: {
      200: { content: { "application/json": { schema: jobOutcomeSchema } }, description: "Completed" },
      409: errors003("STATE_CONFLICT: the job is finished"),
      422: errors003("VALIDATION_FAILED: result does not match the job type"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id } = c.req.valid("param");
    const { lock_token, result } = c.req.valid("json");
    const token = lockTokenOf(lock_token);
    const home = await homeOf(c, job_id);
    const facts = JOB_TYPES[home.jobType].facts;
    if (facts) {
      const parsed = facts.safeParse(result.facts);
      if (!parsed.success) {
        throw new ApiError("validation_failed", `result.facts does not match ${home.jobType}`, {
          issues: parsed.error.issues.map((issue) => ({
            location: ["body", "result", "facts", ...issue.path.map(String)],
            message: issue.message,
            type: issue.code,
          })),
        });
      }
    }
    const manifest = await verifiedManifest(db(c), home.jobType, job_id, result.derived_manifest);
    const outcome = await boardFor(c.env, home.jobType, job_id).submit(job_id, token, {
      ...result,
      derived_manifest: manifest,
    });
    if (!outcome.ok) throw refusalError(outcome);
    return c.json(outcome.outcome, 200);
  },
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/jobs/{job_id}/fail",
    tags,
    summary: "Report a failure; retryable puts the job back with backoff while attempts remain",
    security,
    middleware: [limitBody(16 * KiB), authenticateCatalog(), requireScope("jobs:submit")] as const,
    request: {
      params: jobIdParam,
      body: { content: { "application/json": { schema: failSchema } }, required: true },
    },
    responses: {
      200: { content: { "application/json": { schema: jobOutcomeSchema } }, description: "Recorded" },
      409: errors003("STATE_CONFLICT: the job is finished"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const token = lockTokenOf(body.lock_token);
    const home = await homeOf(c, job_id);
    const outcome = await boardFor(c.env, home.jobType, job_id).fail(job_id, token, {
      code: body.error_code,
      message: body.message,
      retryable: body.retryable,
    });
    if (!outcome.ok) throw refusalError(outcome);
    return c.json(outcome.outcome, 200);
  },
);

jobRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/jobs/{job_id}/inputs/{name}",
    tags,
    summary: "Download one of the job's inputs while holding its lease (X-Lock-Token)",
    security,
    middleware: [authenticateCatalog(), requireScope("jobs:claim")] as const,
    request: { params: jobIdParam.extend({ name: z.string().min(1).max(64) }) },
    responses: {
      200: { content: { "application/octet-stream": { schema: z.any() } }, description: "The bytes" },
      404: errors003("NOT_FOUND"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id, name } = c.req.valid("param");
    const lease = await holdLease(c, job_id, c.req.header(LOCK_TOKEN_HEADER));
    const input = lease.job.inputs.find((candidate) => candidate.name === name);
    const object = input ? await c.env.MEDIA.get(input.r2Key) : null;
    if (!input || !object) throw new ApiError("not_found", `No input ${name} for this job`);
    return new Response(object.body, {
      headers: {
        "Content-Type": input.contentType,
        "Content-Length": String(object.size),
        "Cache-Control": "no-store",
      },
    });
  },
);
