/**
 * GET /admin/logs: the audit log, newest first, as the original's `{logs}`
 * plus paging. Filters: action, actor ("admin:3", "system", …), since/until
 * (ISO times, since inclusive, until exclusive); `limit` rows per page and
 * `cursor` from the previous page's `next_cursor`. Rows never hold secrets
 * (core/audit.ts); older ones than AUDIT_RETENTION_DAYS are swept.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { adminRoute } from "../../auth/media-generation";
import { type AuditRow, listAudit } from "../../core/audit";
import { errors000 } from "../../errors/schemas";
import { db } from "../../http/context";
import { router } from "../../http/router";

const LogEntry = z
  .object({
    id: z.number().int(),
    ts: z.string().datetime(),
    ip: z.string().nullable(),
    actor: z.string(),
    principal_id: z.number().int().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    success: z.boolean(),
    details: z.record(z.string(), z.unknown()).nullable(),
    request_id: z.string().nullable(),
  })
  .openapi("AuditLogEntry");

/** `<at ms>.<id>` of the last row shown. */
const cursor = z
  .string()
  .regex(/^\d{1,15}\.\d{1,15}$/, "Use next_cursor from the previous page")
  .transform((value) => {
    const [at, id] = value.split(".").map(Number);
    return { at: new Date(at ?? 0), id: id ?? 0 };
  });

const LogQuery = z.object({
  action: z.string().min(1).max(100).optional(),
  actor: z.string().min(1).max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: cursor.optional(),
});

export const adminLogs = router();

adminLogs.openapi(
  createRoute({
    method: "get",
    path: "/admin/logs",
    tags: ["Admin (000)"],
    summary: "Audit events, newest first; filter by action, actor and time; page with limit and cursor",
    middleware: [adminRoute("logs_read", { bucket: "read" })] as const,
    request: { query: LogQuery },
    responses: {
      200: {
        content: {
          "application/json": {
            schema: z.object({ logs: z.array(LogEntry), next_cursor: z.string().nullable() }),
          },
        },
        description: "One page of audit events",
      },
      401: errors000("No admin session"),
      422: errors000("Invalid filter"),
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const { rows, more } = await listAudit(db(c), {
      action: query.action,
      actor: query.actor,
      since: query.since ? new Date(query.since) : undefined,
      until: query.until ? new Date(query.until) : undefined,
      limit: query.limit,
      after: query.cursor,
    });
    const last = rows.at(-1);
    return c.json(
      { logs: rows.map(renderEntry), next_cursor: more && last ? `${last.at.getTime()}.${last.id}` : null },
      200,
    );
  },
);

function renderEntry(row: AuditRow): z.infer<typeof LogEntry> {
  return {
    id: row.id,
    ts: row.at.toISOString(),
    ip: row.ip,
    actor: row.actor,
    principal_id: row.principalId,
    action: row.action,
    target: row.target,
    success: row.success,
    details: row.details,
    request_id: row.requestId,
  };
}
