/**
 * Contract 004 health: `{status, ready, timestamp}` for anyone; with
 * `?detailed=true`, for an authenticated caller only, readiness per dependency
 * and the security posture — which protections are on, never a secret's value.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { authenticateExtract } from "../../auth/extract";
import { configFrom } from "../../config";
import { appliedMigration, checkDependencies } from "../../core/health";
import { errorsDetail } from "../../errors/schemas";
import { isHttps } from "../../http/context";
import { router } from "../../http/router";

const Check = z.object({ ok: z.boolean(), latency_ms: z.number() });

const Health = z
  .object({
    status: z.enum(["ok", "degraded", "error"]),
    ready: z.boolean(),
    timestamp: z.string().datetime(),
    readiness: z.object({ database: Check, storage: Check, migration: z.string().nullable() }).optional(),
    security_policy: z
      .object({
        auth_required: z.boolean(),
        jwt_secret_min_length_met: z.boolean(),
        exchange_secret_min_length_met: z.boolean(),
        min_secret_length: z.number().int(),
        cookies_secure: z.boolean(),
        cors_allowlist_size: z.number().int(),
        environment: z.string(),
      })
      .optional(),
  })
  .openapi("ExtractHealth");

export const extractHealth = router();

extractHealth.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/health",
    tags: ["Health (004)"],
    summary: "Readiness; detailed=true adds dependency checks and security posture (authenticated)",
    request: { query: z.object({ detailed: z.enum(["true", "false", "1", "0"]).optional() }) },
    middleware: [
      async (c, next) => {
        const detailed = c.req.query("detailed");
        if (detailed === "true" || detailed === "1") return authenticateExtract()(c, next);
        await next();
      },
    ] as const,
    responses: {
      200: { content: { "application/json": { schema: Health } }, description: "Ready" },
      401: errorsDetail("detailed=true needs authentication"),
      503: { content: { "application/json": { schema: Health } }, description: "Not ready" },
    },
  }),
  async (c) => {
    const { detailed } = c.req.valid("query");
    const { database, storage } = await checkDependencies(c.env);
    const ready = database.ok && storage.ok;
    const body: z.infer<typeof Health> = {
      status: ready ? "ok" : database.ok || storage.ok ? "degraded" : "error",
      ready,
      timestamp: new Date().toISOString(),
    };
    if (detailed === "true" || detailed === "1") {
      const config = configFrom(c.env);
      body.readiness = { database, storage, migration: await appliedMigration(c.env) };
      body.security_policy = {
        auth_required: true,
        jwt_secret_min_length_met: config.JWT_SECRET.length >= 32,
        exchange_secret_min_length_met: config.EXCHANGE_SECRET.length >= 32,
        min_secret_length: 32,
        cookies_secure: isHttps(c),
        cors_allowlist_size: config.CORS_ORIGINS.length,
        environment: config.ENVIRONMENT,
      };
    }
    return ready ? c.json(body, 200) : c.json(body, 503);
  },
);
