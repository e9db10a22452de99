/**
 * A done generation's files (contract 000), streamed from R2 with Range so a
 * <video> tag can seek; `?api_key=` works for media elements that cannot send
 * headers:
 *   GET /results/{task_id}   the image (image/png) or video (video/mp4)
 *   GET /preview/{task_id}   a JPEG at most 512 px on its longer side (a video's first frame)
 * 404 task_not_found (or not yours), result_not_ready / preview_not_ready; 410
 * result_file_missing once the bytes expired or were deleted.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { authenticateGeneration } from "../../auth/media-generation";
import { type Generation, outputRef } from "../../core/generation/tasks";
import { readableArtifact } from "../../core/media/artifacts";
import { serveObject } from "../../core/media/serve";
import { ApiError } from "../../errors/api-error";
import { errors000 } from "../../errors/schemas";
import { type AppContext, callerOf, db } from "../../http/context";
import { router } from "../../http/router";
import { ownGeneration, taskIdParam } from "./status";

const tags = ["Generation (000)"];
const security = [{ ApiKey: [] }];
const bytes = (types: string) => ({ content: { [types]: { schema: z.any() } } });

export const results = router();

results.openapi(
  createRoute({
    method: "get",
    path: "/results/{task_id}",
    tags,
    summary: "The generated image or video; Range requests answer 206",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { params: taskIdParam },
    responses: {
      200: { ...bytes("video/mp4"), description: "The file (video/mp4 or image/png)" },
      206: { ...bytes("video/mp4"), description: "The range asked for" },
      404: errors000("task_not_found or result_not_ready"),
      410: errors000("result_file_missing: expired or deleted"),
      416: errors000("Range outside the file"),
    },
  }),
  async (c) => {
    const generation = await ownGeneration(c, c.req.valid("param").task_id);
    return serveOutput(c, generation, generation.record.type, "result_not_ready");
  },
);

results.openapi(
  createRoute({
    method: "get",
    path: "/preview/{task_id}",
    tags,
    summary: "A JPEG preview, at most 512 px on its longer side; a video's first frame",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { params: taskIdParam },
    responses: {
      200: { ...bytes("image/jpeg"), description: "The preview" },
      404: errors000("task_not_found or preview_not_ready"),
      410: errors000("result_file_missing: expired or deleted"),
    },
  }),
  async (c) => {
    const generation = await ownGeneration(c, c.req.valid("param").task_id);
    return serveOutput(c, generation, "preview", "preview_not_ready");
  },
);

async function serveOutput(
  c: AppContext,
  generation: Generation,
  kind: string,
  notReady: "result_not_ready" | "preview_not_ready",
): Promise<Response> {
  const { task } = generation;
  if (task.status !== "done") {
    throw new ApiError(
      notReady,
      task.status === "failed" ? "The generation failed" : `The generation is ${task.status}`,
    );
  }
  const ref = outputRef(generation, kind);
  if (!ref) throw new ApiError(notReady, `The generation recorded no ${kind}`);
  try {
    const artifact = await readableArtifact(db(c), ref, callerOf(c).principal.id);
    return await serveObject(c.env, artifact, c.req.raw);
  } catch (error) {
    if (error instanceof ApiError && error.code === "gone") {
      throw new ApiError("result_file_missing", "The file expired or was deleted");
    }
    throw error;
  }
}
