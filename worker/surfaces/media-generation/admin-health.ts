/**
 * GET /admin/health: the original client's `{ok, storage_ok, ready_accounts}`
 * and, beside it, what an operator needs: D1 and R2 probes, JobBoard depth
 * (the queue's own backlog is not readable from a Worker; the boards hold
 * every job it delivered), bridges online per account, accounts by status and
 * stored media. `ok` is the storage verdict; a part that could not be read is
 * null. Always 200: this is the page that explains an outage.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { adminRoute } from "../../auth/media-generation";
import { systemHealth } from "../../core/admin-health";
import { ACCOUNT_STATUSES } from "../../db/schema";
import { errors000 } from "../../errors/schemas";
import { router } from "../../http/router";

const Probe = z.object({ ok: z.boolean(), latency_ms: z.number() });

const AdminHealth = z
  .object({
    ok: z.boolean(),
    storage_ok: z.boolean(),
    ready_accounts: z.number().int(),
    storage: z.object({ database: Probe, r2: Probe }),
    queue: z
      .object({
        pending: z.number().int(),
        claimed: z.number().int(),
        outbox: z.number().int(),
        boards: z.record(
          z.string(),
          z.object({
            pending: z.number().int(),
            claimed: z.number().int(),
            outbox: z.number().int(),
            agents_online: z.number().int(),
          }),
        ),
      })
      .nullable(),
    agents_online: z.record(z.string(), z.number().int()).nullable(),
    accounts: z
      .object({ total: z.number().int(), by_status: z.record(z.enum(ACCOUNT_STATUSES), z.number().int()) })
      .nullable(),
    media: z.object({ artifacts: z.number().int(), bytes: z.number().int() }).nullable(),
    checked_at: z.string().datetime(),
  })
  .openapi("AdminHealth");

export const adminHealth = router();

adminHealth.openapi(
  createRoute({
    method: "get",
    path: "/admin/health",
    tags: ["Admin (000)"],
    summary: "Storage, JobBoard depth, bridges online per account, accounts by status, stored media",
    middleware: [adminRoute("health_read", { bucket: "read" })] as const,
    responses: {
      200: { content: { "application/json": { schema: AdminHealth } }, description: "The report" },
      401: errors000("No admin session"),
    },
  }),
  async (c) => {
    const health = await systemHealth(c.env);
    const storageOk = health.storage.database.ok && health.storage.r2.ok;
    const sum = (pick: (board: { pending: number; claimed: number; outbox: number }) => number) =>
      (health.boards ?? []).reduce((total, board) => total + pick(board), 0);
    return c.json(
      {
        ok: storageOk,
        storage_ok: storageOk,
        ready_accounts: health.accountsByStatus?.ready ?? 0,
        storage: health.storage,
        queue: health.boards
          ? {
              pending: sum((board) => board.pending),
              claimed: sum((board) => board.claimed),
              outbox: sum((board) => board.outbox),
              boards: Object.fromEntries(
                health.boards.map((board) => [
                  board.name,
                  {
                    pending: board.pending,
                    claimed: board.claimed,
                    outbox: board.outbox,
                    agents_online: board.agents.length,
                  },
                ]),
              ),
            }
          : null,
        agents_online: health.liveness
          ? Object.fromEntries([...health.liveness].map(([account, alive]) => [account, alive.bridgesOnline]))
          : null,
        accounts: health.accountsByStatus
          ? {
              total: Object.values(health.accountsByStatus).reduce((total, n) => total + n, 0),
              by_status: health.accountsByStatus,
            }
          : null,
        media: health.media,
        checked_at: new Date().toISOString(),
      },
      200,
    );
  },
);
