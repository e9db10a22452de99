/**
 * The error bodies as zod schemas, for the OpenAPI document only: the renderers
 * in render.ts produce them.
 */
import { z } from "@hono/zod-openapi";

export const Error000 = z
  .object({
    code: z.string().openapi({ example: "validation_error" }),
    detail: z.string(),
    user_action: z.string(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("Error000");

export const DetailError = z
  .object({
    detail: z.union([
      z.string(),
      z.array(z.object({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string(), type: z.string() })),
    ]),
  })
  .openapi("DetailError");

export const Error003 = z
  .object({
    code: z.string().openapi({ example: "STATE_CONFLICT" }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    retryable: z.boolean(),
    correlation_id: z.string(),
  })
  .openapi("Error003");

/** Response entries for an error status in each shape, for createRoute's `responses`. */
export const errors000 = (description: string) => ({
  content: { "application/json": { schema: Error000 } },
  description,
});
export const errorsDetail = (description: string) => ({
  content: { "application/json": { schema: DetailError } },
  description,
});
export const errors003 = (description: string) => ({
  content: { "application/json": { schema: Error003 } },
  description,
});
