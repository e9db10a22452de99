/**
 * POST /generate (contract 000): validate against the model catalog, store
 * the reference images, persist the task, dispatch it; answer
 * `{task_id, status: "pending"}` plus what the server settled (canonical
 * model, the label sent, the seed) and the fields it ignored. An
 * Idempotency-Key replays the first answer instead of generating twice.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { authenticateGeneration } from "../../auth/media-generation";
import { MODEL_IDS, REFERENCE_IMAGE_MAX_BYTES } from "../../contracts/models";
import { parseGenerateRequest } from "../../core/generation/request";
import { startGeneration } from "../../core/generation/start";
import { errors000 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { callerOf, db } from "../../http/context";
import { idempotent } from "../../http/idempotency";
import { router } from "../../http/router";

/** Two inline images (first_last_frame) at the most, base64 (4/3), and room for the rest. */
export const GENERATE_BODY_BYTES = 2 * Math.ceil((REFERENCE_IMAGE_MAX_BYTES * 4) / 3) + 256 * KiB;

const GenerateRequest = z.record(z.string(), z.unknown()).openapi("GenerateRequest", {
  description:
    `model (${MODEL_IDS.join(", ")} or an alias), type, mode, prompt and the model's parameters, flat. ` +
    "GET /models gives each model's modes and a JSON Schema of its parameters with defaults and limits. " +
    `Reference images are data URIs (each at most ${REFERENCE_IMAGE_MAX_BYTES} bytes decoded) or the artifact_id ` +
    "of an upload (POST /uploads/init …) for larger ones.",
  example: { model: "flux", type: "image", mode: "txt2img", prompt: "a lighthouse at dusk", width: 768, height: 512 },
});

const Accepted = z
  .object({
    task_id: z.string(),
    status: z.literal("pending"),
    model: z.string().openapi({ description: "The canonical model id" }),
    label: z.string().openapi({ description: "The model name as sent (an id or an alias)" }),
    seed: z.number().int().openapi({ description: "The seed used: the one sent, or the one the server picked for -1" }),
    ignored: z.array(z.string()).openapi({ description: "Fields sent that this model and mode do not use" }),
  })
  .openapi("GenerateAccepted");

export const generate = router();

generate.openapi(
  createRoute({
    method: "post",
    path: "/generate",
    tags: ["Generation (000)"],
    summary: "Start an image or video generation",
    security: [{ ApiKey: [] }],
    middleware: [limitBody(GENERATE_BODY_BYTES), authenticateGeneration(), idempotent()] as const,
    request: { body: { content: { "application/json": { schema: GenerateRequest } }, required: true } },
    responses: {
      200: { content: { "application/json": { schema: Accepted } }, description: "Persisted and dispatched" },
      401: errors000("No credential"),
      403: errors000("Invalid API key"),
      413: errors000("Body too large: upload large images and send their artifact_id"),
      422: errors000("Invalid request; metadata.errors lists each field"),
      429: errors000("A guest session's concurrent or daily limit"),
      503: errors000("no_ready_accounts: no live GPU bridge can run this model"),
    },
  }),
  async (c) => {
    const request = parseGenerateRequest(c.req.valid("json"));
    const started = await startGeneration(c.env, db(c), callerOf(c).principal, request, (work) =>
      c.executionCtx.waitUntil(work),
    );
    return c.json(
      {
        task_id: started.taskId,
        status: "pending" as const,
        model: request.model,
        label: request.label,
        seed: started.seed,
        ignored: request.ignored,
      },
      200,
    );
  },
);
