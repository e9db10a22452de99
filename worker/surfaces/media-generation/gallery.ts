/**
 * The caller's gallery (contract 000):
 *   GET    /gallery              done generations, newest first, as the contract's array; ?limit= and
 *                               ?cursor= page through it, the next cursor in X-Next-Cursor (and Link)
 *   DELETE /gallery/{task_id}    204: the files, their artifacts and the task are gone; a later
 *                               /status or /results is a 404. Someone else's task is a 404.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { authenticateGeneration } from "../../auth/media-generation";
import { decodeCursor, deleteGeneration, encodeCursor, galleryPage } from "../../core/generation/tasks";
import { galleryItem } from "../../core/generation/views";
import { errors000 } from "../../errors/schemas";
import { callerOf, db } from "../../http/context";
import { router } from "../../http/router";
import { ownGeneration, taskIdParam } from "./status";

const tags = ["Gallery (000)"];
const security = [{ ApiKey: [] }];
const GALLERY_PAGE_MAX = 100;
const NEXT_CURSOR = "X-Next-Cursor";

const GalleryItem = z
  .object({
    id: z.string(),
    task_id: z.string(),
    model: z.string(),
    label: z.string(),
    type: z.enum(["image", "video"]),
    mode: z.string(),
    prompt: z.string(),
    negative_prompt: z.string(),
    parameters: z.record(z.string(), z.unknown()),
    width: z.number().int(),
    height: z.number().int(),
    seed: z.number().int(),
    created_at: z.string(),
    preview_url: z.string(),
    result_url: z.string(),
  })
  .openapi("GalleryItem");

export const gallery = router();

gallery.openapi(
  createRoute({
    method: "get",
    path: "/gallery",
    tags,
    summary: "Your done generations, newest first",
    security,
    middleware: [authenticateGeneration()] as const,
    request: {
      query: z.object({
        limit: z.coerce.number().int().min(1).max(GALLERY_PAGE_MAX).default(GALLERY_PAGE_MAX),
        cursor: z
          .string()
          .max(128)
          .transform((raw, ctx) => {
            const cursor = decodeCursor(raw);
            if (cursor) return cursor;
            ctx.addIssue({ code: "custom", message: "not a cursor this server issued" });
            return z.NEVER;
          })
          .optional()
          .openapi({ description: "X-Next-Cursor of the previous page" }),
      }),
    },
    responses: {
      200: {
        content: { "application/json": { schema: z.array(GalleryItem) } },
        headers: z.object({ [NEXT_CURSOR]: z.string().optional() }),
        description: "One page; X-Next-Cursor is set when more follow",
      },
      422: errors000("Invalid limit or cursor"),
    },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const page = await galleryPage(db(c), callerOf(c).principal.id, { limit, cursor });
    if (page.next) {
      const next = encodeCursor(page.next);
      c.header(NEXT_CURSOR, next);
      c.header("Link", `</gallery?limit=${limit}&cursor=${next}>; rel="next"`);
    }
    return c.json(page.items.map(galleryItem), 200);
  },
);

gallery.openapi(
  createRoute({
    method: "delete",
    path: "/gallery/{task_id}",
    tags,
    summary: "Delete a generation: its files, and the task (an unfinished one is stopped first)",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { params: taskIdParam },
    responses: { 204: { description: "Deleted" }, 404: errors000("task_not_found (or not yours)") },
  }),
  async (c) => {
    const generation = await ownGeneration(c, c.req.valid("param").task_id);
    await deleteGeneration(c.env, db(c), generation);
    return c.body(null, 204);
  },
);
