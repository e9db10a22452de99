/**
 * POST /admin/agents: an operator enrols a GPU bridge. The agent's bearer token
 * is in this response and nowhere else; only its digest is stored.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { adminRoute } from "../../auth/media-generation";
import { AGENT_SCOPES, type Scope } from "../../contracts/scopes";
import { enrollAgent } from "../../core/agents";
import { errors000 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { db } from "../../http/context";
import { router } from "../../http/router";

const CreateAgent = z
  .object({
    name: z
      .string()
      .trim()
      .min(3)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, "Name may contain letters, digits and . _ - only"),
    capacity_account_id: z.string().min(1).max(64).default("local"),
    scopes: z
      .array(z.enum(AGENT_SCOPES as [Scope, ...Scope[]]))
      .min(1)
      .optional(),
  })
  .openapi("CreateAgent");

const CreatedAgent = z
  .object({
    agent_id: z.number().int(),
    name: z.string(),
    capacity_account_id: z.string(),
    scopes: z.array(z.string()),
    token: z.string().openapi({ description: "Shown once; store it in the bridge's environment." }),
  })
  .openapi("CreatedAgent");

export const adminAgents = router();

adminAgents.openapi(
  createRoute({
    method: "post",
    path: "/admin/agents",
    tags: ["Admin (000)"],
    summary: "Create a GPU bridge agent and show its token once",
    middleware: [limitBody(4 * KiB), adminRoute("agent_create")] as const,
    request: { body: { content: { "application/json": { schema: CreateAgent } }, required: true } },
    responses: {
      201: { content: { "application/json": { schema: CreatedAgent } }, description: "Created" },
      401: errors000("No admin session"),
      404: errors000("Unknown capacity account"),
      409: errors000("Name taken"),
      422: errors000("Invalid body"),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const agent = await enrollAgent(db(c), {
      name: input.name,
      capacityAccountId: input.capacity_account_id,
      scopes: input.scopes,
    });
    return c.json(
      {
        agent_id: agent.agentId,
        name: input.name.toLowerCase(),
        capacity_account_id: agent.capacityAccountId,
        scopes: agent.scopes,
        token: agent.token,
      },
      201,
    );
  },
);
