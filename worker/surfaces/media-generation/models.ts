/**
 * GET /models (contract 000): the catalog a client builds its form from —
 * each model's id, name, aliases, type, modes and a JSON Schema of its
 * parameters with defaults and limits, rendered from the very schemas
 * POST /generate validates with (worker/contracts/models.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { MODEL_IDS, type ModelSpec, modelSpec } from "../../contracts/models";
import { router } from "../../http/router";

const ModelEntry = z
  .object({
    id: z.string(),
    name: z.string(),
    aliases: z.array(z.string()),
    type: z.enum(["image", "video"]),
    modes: z.array(z.string()),
    description: z.string(),
    parameters: z
      .record(z.string(), z.unknown())
      .openapi({ description: "JSON Schema (draft 2020-12) of the request's fields" }),
  })
  .openapi("GenerationModel");

/** The same for every request: rendered once per isolate. */
let rendered: z.infer<typeof ModelEntry>[] | undefined;

function catalog(): z.infer<typeof ModelEntry>[] {
  rendered ??= MODEL_IDS.map((id) => {
    const spec: ModelSpec = modelSpec(id);
    return {
      id,
      name: spec.name,
      aliases: [...spec.aliases],
      type: spec.type,
      modes: [...spec.modes],
      description: spec.description,
      // The input side: what a client may send, with defaults for what it may leave out.
      parameters: z.toJSONSchema(spec.params, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    };
  });
  return rendered;
}

export const models = router();

models.openapi(
  createRoute({
    method: "get",
    path: "/models",
    tags: ["Generation (000)"],
    summary: "The models, their modes and their parameters (JSON Schema)",
    responses: {
      200: {
        content: { "application/json": { schema: z.object({ models: z.array(ModelEntry) }) } },
        description: "The catalog",
      },
    },
  }),
  (c) => c.json({ models: catalog() }, 200),
);
