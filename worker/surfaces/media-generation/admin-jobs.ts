/**
 * Operator tools for the job engine, behind the admin session (contract 000's
 * admin namespace). Additive, in the OpenAPI:
 *   POST /admin/artifacts                 upload an input file (raw body) → artifact_id
 *   GET  /admin/artifacts/{id}            download an input or an output (Range)
 *   POST /admin/jobs                      dispatch a task of one job of any type
 *   GET  /admin/tasks/{id}                the task and its jobs, as D1 records them
 *   GET  /admin/tasks/{id}/events         its progress events after ?after=<seq>: JSON
 *                                         (?wait=N long-polls) or a WebSocket upgrade
 *   GET  /admin/boards                    each JobBoard's depth and live agents
 */
import { createRoute, z } from "@hono/zod-openapi";
import { adminRoute } from "../../auth/media-generation";
import { configFrom } from "../../config";
import { type InputRule, JOB_TYPE_NAMES, JOB_TYPES } from "../../contracts/job-types";
import { namedBoards } from "../../core/jobs/boards";
import { dispatchTask, handOff } from "../../core/jobs/dispatch";
import { taskEvents, taskEventsQuery } from "../../core/jobs/events";
import { findTask, type JobRow, manifestOf, type TaskRow } from "../../core/jobs/tasks";
import { readableArtifact, storeArtifact } from "../../core/media/artifacts";
import { serveObject } from "../../core/media/serve";
import { ApiError } from "../../errors/api-error";
import { errors000 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { type AppContext, callerOf, db } from "../../http/context";
import { router } from "../../http/router";

const tags = ["Admin: job engine"];
const taskIdParam = z.object({ task_id: z.string().uuid() });

const Dispatch = z
  .object({
    job_type: z.enum(JOB_TYPE_NAMES),
    params: z.record(z.string(), z.unknown()).default({}),
    /** Input name → artifact id from POST /admin/artifacts. */
    inputs: z.record(z.string(), z.string().uuid()).default({}),
    /** Fail the job as not_started if no agent claims it within this many seconds. */
    start_deadline_seconds: z.number().int().positive().max(86_400).optional(),
  })
  .openapi("AdminDispatch");

export const adminJobs = router();

adminJobs.openapi(
  createRoute({
    method: "post",
    path: "/admin/artifacts",
    tags,
    summary: "Upload an input file as the raw request body; Content-Length is required",
    middleware: [adminRoute("artifact_upload")] as const,
    responses: {
      201: {
        content: {
          "application/json": {
            schema: z.object({
              artifact_id: z.string(),
              size_bytes: z.number(),
              sha256: z.string(),
              content_type: z.string(),
            }),
          },
        },
        description: "Stored",
      },
      400: errors000("Missing Content-Length or body"),
      413: errors000("Too large"),
    },
  }),
  async (c) => {
    const max = configFrom(c.env).ADMIN_ARTIFACT_MAX_BYTES;
    const size = Number(c.req.header("content-length"));
    if (!Number.isInteger(size) || size <= 0 || !c.req.raw.body) {
      throw new ApiError("bad_request", "Send the file as the request body with a Content-Length header");
    }
    if (size > max) {
      throw new ApiError("payload_too_large", `Files over ${max} bytes go through the upload API`, {
        details: { max_bytes: max },
      });
    }
    const artifact = await storeArtifact(c.env, db(c), {
      ownerPrincipalId: callerOf(c).principal.id,
      surface: "admin",
      body: c.req.raw.body,
      sizeBytes: size,
      contentType: c.req.header("content-type") || "application/octet-stream",
    });
    return c.json(
      {
        artifact_id: artifact.id,
        size_bytes: artifact.sizeBytes,
        sha256: artifact.sha256,
        content_type: artifact.contentType,
      },
      201,
    );
  },
);

adminJobs.openapi(
  createRoute({
    method: "get",
    path: "/admin/artifacts/{artifact_id}",
    tags,
    summary: "Download an input you uploaded or an output of a task you dispatched; Range answers 206",
    middleware: [adminRoute("artifact_read", { bucket: "read" })] as const,
    request: { params: z.object({ artifact_id: z.string().uuid() }) },
    responses: {
      200: { content: { "application/octet-stream": { schema: z.any() } }, description: "The bytes" },
      206: { content: { "application/octet-stream": { schema: z.any() } }, description: "The range asked for" },
      404: errors000("No such artifact"),
      410: errors000("Expired"),
      416: errors000("Range outside the object"),
    },
  }),
  async (c) => {
    const artifact = await readableArtifact(db(c), c.req.valid("param").artifact_id, callerOf(c).principal.id);
    return serveObject(c.env, artifact, c.req.raw);
  },
);

adminJobs.openapi(
  createRoute({
    method: "post",
    path: "/admin/jobs",
    tags,
    summary: `Dispatch a task of one job (types: ${JOB_TYPE_NAMES.join(", ")})`,
    middleware: [limitBody(64 * KiB), adminRoute("job_dispatch")] as const,
    request: { body: { content: { "application/json": { schema: Dispatch } }, required: true } },
    responses: {
      201: {
        content: { "application/json": { schema: z.object({ task_id: z.string(), job_ids: z.array(z.string()) }) } },
        description: "Written and dispatched",
      },
      404: errors000("Unknown input artifact"),
      422: errors000("Invalid job"),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const deadline = input.start_deadline_seconds;
    const { taskId, jobIds } = await dispatchTask(
      c.env,
      {
        ownerPrincipalId: callerOf(c).principal.id,
        surface: "admin",
        jobs: [{ jobType: input.job_type, params: input.params, inputs: input.inputs }],
        startDeadlineAt: deadline ? new Date(Date.now() + deadline * 1000) : null,
      },
      handOff,
      (work) => c.executionCtx.waitUntil(work),
    );
    return c.json({ task_id: taskId, job_ids: jobIds }, 201);
  },
);

adminJobs.openapi(
  createRoute({
    method: "get",
    path: "/admin/tasks/{task_id}",
    tags,
    summary: "A task you dispatched and its jobs, as D1 records them",
    middleware: [adminRoute("task_read", { bucket: "read" })] as const,
    request: { params: taskIdParam },
    responses: {
      200: { content: { "application/json": { schema: z.record(z.string(), z.unknown()) } }, description: "The task" },
      404: errors000("No such task"),
    },
  }),
  async (c) => {
    const { task_id } = c.req.valid("param");
    const found = await ownTask(c, task_id);
    return c.json({ ...renderTask(found.task), jobs: found.jobs.map(renderJob) }, 200);
  },
);

adminJobs.openapi(
  createRoute({
    method: "get",
    path: "/admin/tasks/{task_id}/events",
    tags,
    summary: "Progress events after ?after=<seq>: JSON (?wait=N long-polls) or a WebSocket (Upgrade: websocket)",
    middleware: [adminRoute("task_watch", { bucket: "read" })] as const,
    request: {
      params: taskIdParam,
      query: taskEventsQuery,
    },
    responses: {
      200: { content: { "application/json": { schema: z.record(z.string(), z.unknown()) } }, description: "Events" },
      101: { description: "WebSocket: one JSON event per message, backlog first" },
      404: errors000("No such task"),
    },
  }),
  async (c) => {
    const { task_id } = c.req.valid("param");
    await ownTask(c, task_id);
    return taskEvents(c.env, c.req.raw, task_id, c.req.valid("query"));
  },
);

adminJobs.openapi(
  createRoute({
    method: "get",
    path: "/admin/boards",
    tags,
    summary: "Each JobBoard: pending, claimed, finished, unprojected events, agents alive",
    middleware: [adminRoute("boards_read", { bucket: "read" })] as const,
    responses: {
      200: { content: { "application/json": { schema: z.record(z.string(), z.unknown()) } }, description: "Boards" },
    },
  }),
  async (c) => {
    const entries = await Promise.all(
      namedBoards(c.env).map(async ({ name, board }) => [name, await board.stats()] as const),
    );
    return c.json({ boards: Object.fromEntries(entries), job_types: renderJobTypes() }, 200);
  },
);

async function ownTask(c: AppContext, taskId: string) {
  const found = await findTask(db(c), taskId, callerOf(c).principal.id);
  if (!found) throw new ApiError("not_found", "No such task");
  return found;
}

function renderTask(task: TaskRow) {
  return {
    task_id: task.id,
    status: task.status,
    progress: task.progress / 1000,
    stage: task.stage,
    error: task.errorCode ? { code: task.errorCode, message: task.errorMessage } : null,
    start_deadline_at: task.startDeadlineAt?.toISOString() ?? null,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
    finished_at: task.finishedAt?.toISOString() ?? null,
  };
}

/** The job types as plain data: their zod schemas (params, facts) would serialise as zod's internals. */
function renderJobTypes() {
  return Object.fromEntries(
    JOB_TYPE_NAMES.map((name) => {
      const { description, capabilities, outputs, shards } = JOB_TYPES[name];
      const inputs: InputRule = JOB_TYPES[name].inputs;
      return [
        name,
        {
          description,
          capabilities,
          // A RegExp serialises as {}: its source says what it matches.
          inputs: { ...inputs, pattern: inputs.pattern?.source },
          outputs: outputs.map((output) => ({ kind: output.kind, content_types: output.contentTypes })),
          shards,
        },
      ];
    }),
  );
}

function renderJob(job: JobRow) {
  return {
    job_id: job.id,
    job_type: job.jobType,
    status: job.status,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    boarded_at: job.boardedAt?.toISOString() ?? null,
    agent_id: job.agentId,
    result: job.result,
    /** Each uploaded output, with where to download it. */
    outputs: manifestOf(job).map((entry) => ({ ...entry, url: `/admin/artifacts/${entry.ref}` })),
    error: job.errorCode ? { code: job.errorCode, message: job.errorMessage } : null,
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}
