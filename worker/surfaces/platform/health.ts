/**
 * GET / and GET /health: one object that satisfies both contract 000
 * (`{ok: true}`) and contract 001 (`{status, service, version, database,
 * services}`), backed by real D1 and R2 checks. Unhealthy → 503 with the same shape.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { checkDependencies } from "../../core/health";
import { router } from "../../http/router";
import { VERSION } from "../../version";

const Health = z
  .object({
    ok: z.boolean(),
    status: z.enum(["healthy", "degraded"]),
    service: z.string(),
    version: z.string(),
    database: z.enum(["connected", "error"]),
    storage: z.enum(["connected", "error"]),
    services: z.object({
      orchestrator: z.enum(["ready", "degraded"]),
      /** The TaskRoom streams events to operators; contract WebSocket routes (001, 000) are not served yet, so honestly unavailable. */
      websocket: z.enum(["ready", "unavailable"]),
    }),
  })
  .openapi("Health");

const route = (path: "/" | "/health") =>
  createRoute({
    method: "get",
    path,
    tags: ["Health (000, 001)"],
    summary: "Liveness and dependency health",
    responses: {
      200: { content: { "application/json": { schema: Health } }, description: "Healthy" },
      503: { content: { "application/json": { schema: Health } }, description: "A dependency failed" },
    },
  });

export const health = router();

for (const path of ["/", "/health"] as const) {
  health.openapi(route(path), async (c) => {
    const { database, storage } = await checkDependencies(c.env);
    const ok = database.ok && storage.ok;
    const body = {
      ok,
      status: ok ? "healthy" : "degraded",
      service: "Media Edge",
      version: VERSION,
      database: database.ok ? "connected" : "error",
      storage: storage.ok ? "connected" : "error",
      services: { orchestrator: ok ? "ready" : "degraded", websocket: "unavailable" },
    } as const;
    return ok ? c.json(body, 200) : c.json(body, 503);
  });
}
