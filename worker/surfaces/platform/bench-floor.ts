/**
 * Floor routes, served only when BENCH_ROUTES=on (set by `npm run bench`,
 * never in wrangler.toml). Not in the OpenAPI document: they are measuring
 * instruments, not an API.
 *   POST /api/v1/bench/floor  authenticates exactly like a claim (agent bearer
 *                             token, jobs:claim scope, the agent rate budget),
 *                             then makes one Durable Object write.
 *   POST /bench/put           authenticates exactly like an upload part (000
 *                             API key), then streams the body into one R2 put.
 *   GET  /bench/read/{id}     authenticates like GET /status (000 API key), then
 *                             one D1 read of the caller's task.
 *   POST /bench/write         authenticates like POST /generate, then one D1
 *                             insert (a task row) and one queue send.
 */

import { and, eq } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { authenticateCatalog } from "../../auth/catalog";
import { authenticateGeneration } from "../../auth/media-generation";
import { requireScope } from "../../auth/scopes";
import { configFrom } from "../../config";
import { tasks } from "../../db/schema";
import type { AppEnv } from "../../env";
import { ApiError } from "../../errors/api-error";
import { callerOf, db } from "../../http/context";
import { router } from "../../http/router";

export const benchFloor = router();

const benchOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (configFrom(c.env).BENCH_ROUTES !== "on") throw new ApiError("not_found", "Not found");
  await next();
};

benchFloor.post("/api/v1/bench/floor", benchOnly, authenticateCatalog(), requireScope("jobs:claim"), async (c) => {
  await c.env.RATE_LIMITER.getByName("bench:floor").take({ capacity: 1_000_000_000, windowSeconds: 1 });
  return c.json({ ok: true }, 200);
});

benchFloor.post("/bench/put", benchOnly, authenticateGeneration(), async (c) => {
  const size = Number(c.req.header("content-length"));
  if (!Number.isInteger(size) || !c.req.raw.body) throw new ApiError("bad_request", "Send a body with Content-Length");
  const key = `bench/${crypto.randomUUID()}`;
  await c.env.MEDIA.put(key, c.req.raw.body.pipeThrough(new FixedLengthStream(size)));
  c.executionCtx.waitUntil(c.env.MEDIA.delete(key));
  return c.json({ ok: true, size_bytes: size }, 200);
});

benchFloor.get("/bench/read/:id", benchOnly, authenticateGeneration(), async (c) => {
  const [row] = await db(c)
    .select({ id: tasks.id, status: tasks.status })
    .from(tasks)
    .where(and(eq(tasks.id, c.req.param("id")), eq(tasks.ownerPrincipalId, callerOf(c).principal.id)))
    .limit(1);
  return c.json({ ok: true, status: row?.status ?? null }, 200);
});

benchFloor.post("/bench/write", benchOnly, authenticateGeneration(), async (c) => {
  const id = crypto.randomUUID();
  await db(c)
    .insert(tasks)
    .values({ id, ownerPrincipalId: callerOf(c).principal.id, surface: "bench" });
  // An id no job has: the consumer reads it, finds nothing and acknowledges it, as for a real dispatch.
  await c.env.JOBS.send({ job_id: crypto.randomUUID() });
  return c.json({ task_id: id }, 200);
});
