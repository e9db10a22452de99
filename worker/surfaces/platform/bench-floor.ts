/**
 * POST /api/v1/bench/floor — served only when BENCH_ROUTES=on (set by
 * `npm run bench`, never in wrangler.toml). It authenticates exactly like a
 * claim (agent bearer token, jobs:claim scope, the agent rate budget) and then
 * makes one Durable Object write: the floor a claim's cost is measured against.
 * Not in the OpenAPI document: it is a measuring instrument, not an API.
 */
import { authenticateCatalog } from "../../auth/catalog";
import { requireScope } from "../../auth/scopes";
import { configFrom } from "../../config";
import { ApiError } from "../../errors/api-error";
import { router } from "../../http/router";

export const benchFloor = router();

benchFloor.post(
  "/api/v1/bench/floor",
  async (c, next) => {
    if (configFrom(c.env).BENCH_ROUTES !== "on") throw new ApiError("not_found", "Not found");
    await next();
  },
  authenticateCatalog(),
  requireScope("jobs:claim"),
  async (c) => {
    await c.env.RATE_LIMITER.getByName("bench:floor").take({ capacity: 1_000_000_000, windowSeconds: 1 });
    return c.json({ ok: true }, 200);
  },
);
