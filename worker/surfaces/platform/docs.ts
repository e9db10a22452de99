/**
 * /openapi.json (generated from the same zod schemas that validate requests) and
 * Swagger UI at /docs. 002's clients probe /api/docs: it redirects to /docs
 * rather than answering 401.
 */
import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { VERSION } from "../../version";

export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "ApiKey", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Media Edge",
      version: VERSION,
      description:
        "One origin serving five media-pipeline contracts: 000 media generation (root paths), 001 pipeline (/api/auth, /api/generate-*, /api/sessions, /api/storage), 002 story (/api/register, /api/login, /api/refresh, /api/task), 003 catalog (/api/v1 assets, agents, jobs), 004 extract (/api/v1 auth/session, jobs, sessions, config, health).",
    },
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json", title: "Media Edge API" }));
  app.get("/api/docs", (c) => c.redirect("/docs", 302));
}
