/**
 * A generation's progress (contract 000):
 *   GET /status/{task_id}          the contract's {status, progress, error_msg?} and the original client's
 *                                  superset; deadlines are judged here (core/generation/deadlines.ts)
 *   GET /status/{task_id}/events   additive: the TaskRoom's events after ?after=<seq>, as JSON
 *                                  (?wait=N long-polls) or, with Upgrade: websocket, streamed live
 * Someone else's task is a 404, exactly like a missing one.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { authenticateGeneration } from "../../auth/media-generation";
import { currentState } from "../../core/generation/deadlines";
import { findGeneration } from "../../core/generation/tasks";
import { statusView } from "../../core/generation/views";
import { taskEvents, taskEventsQuery } from "../../core/jobs/events";
import { ApiError } from "../../errors/api-error";
import { errors000 } from "../../errors/schemas";
import { type AppContext, callerOf, db } from "../../http/context";
import { router } from "../../http/router";

const tags = ["Generation (000)"];
const security = [{ ApiKey: [] }];
/** Any string: an id that is not one of the caller's tasks is simply not found. */
export const taskIdParam = z.object({ task_id: z.string().min(1).max(128) });

const Status = z
  .object({
    task_id: z.string(),
    status: z.enum(["pending", "processing", "done", "failed"]),
    progress: z.number().int().min(0).max(100).openapi({ description: "Percent" }),
    error_msg: z.string().nullable(),
    error_code: z.string().nullable().openapi({ example: "worker_start_timeout" }),
    stage: z.string().nullable(),
    stage_detail: z.string().nullable().openapi({ description: '"ok:WxH" for a done image, "ok" for a done video' }),
    result_url: z.string().nullable(),
    preview_url: z.string().nullable(),
    model: z.string(),
    label: z.string(),
    type: z.enum(["image", "video"]),
    mode: z.string(),
    seed: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("GenerationStatus");

/** The caller's generation, or 404 task_not_found. */
export async function ownGeneration(c: AppContext, taskId: string) {
  const found = await findGeneration(db(c), taskId, callerOf(c).principal.id);
  if (!found) throw new ApiError("task_not_found", "No such task");
  return found;
}

export const status = router();

status.openapi(
  createRoute({
    method: "get",
    path: "/status/{task_id}",
    tags,
    summary: "A generation's status and progress; poll it (every 2 s is plenty) or watch /events",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { params: taskIdParam },
    responses: {
      200: { content: { "application/json": { schema: Status } }, description: "The status" },
      404: errors000("task_not_found (or not yours)"),
    },
  }),
  async (c) => {
    const generation = await ownGeneration(c, c.req.valid("param").task_id);
    return c.json(statusView(generation, await currentState(c.env, generation)), 200);
  },
);

status.openapi(
  createRoute({
    method: "get",
    path: "/status/{task_id}/events",
    tags,
    summary: "Progress events after ?after=<seq>: JSON (?wait=N long-polls) or a WebSocket (Upgrade: websocket)",
    description:
      "Each event is the engine's: status pending|running|done|failed, progress 0..1, stage, message. " +
      "Browsers authenticate the WebSocket with the gg_session cookie or ?api_key=.",
    security,
    middleware: [authenticateGeneration()] as const,
    request: {
      params: taskIdParam,
      query: taskEventsQuery,
    },
    responses: {
      200: { content: { "application/json": { schema: z.record(z.string(), z.unknown()) } }, description: "Events" },
      101: { description: "WebSocket: one JSON event per message, backlog first" },
      404: errors000("task_not_found (or not yours)"),
    },
  }),
  async (c) => {
    const { task_id } = c.req.valid("param");
    await ownGeneration(c, task_id);
    return taskEvents(c.env, c.req.raw, task_id, c.req.valid("query"));
  },
);
