/**
 * The audit log: every authentication failure and every admin action lands
 * here with who, what, from where and whether it worked. Details must never
 * carry secrets; callers pass identifiers and reasons only.
 */
import { and, desc, eq, gte, lt, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { auditEvents } from "../db/schema";

export interface AuditEvent {
  action: string;
  success: boolean;
  actor: string;
  principalId?: number | null;
  target?: string | null;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

export async function recordAudit(db: Database, event: AuditEvent): Promise<void> {
  await db.insert(auditEvents).values({
    action: event.action,
    success: event.success,
    actor: event.actor,
    principalId: event.principalId ?? null,
    target: event.target ?? null,
    ip: event.ip ?? null,
    requestId: event.requestId ?? null,
    details: event.details ?? null,
  });
}

export type AuditRow = typeof auditEvents.$inferSelect;

export interface AuditQuery {
  action?: string;
  actor?: string;
  since?: Date;
  until?: Date;
  limit: number;
  /** The last row of the previous page: rows strictly older than it follow. */
  after?: { at: Date; id: number };
}

/** Newest first, ordered by (at, id) so rows written in the same millisecond page stably. */
export async function listAudit(db: Database, query: AuditQuery): Promise<{ rows: AuditRow[]; more: boolean }> {
  const { after } = query;
  const rows = await db
    .select()
    .from(auditEvents)
    .where(
      and(
        query.action ? eq(auditEvents.action, query.action) : undefined,
        query.actor ? eq(auditEvents.actor, query.actor) : undefined,
        query.since ? gte(auditEvents.at, query.since) : undefined,
        query.until ? lt(auditEvents.at, query.until) : undefined,
        after
          ? or(lt(auditEvents.at, after.at), and(eq(auditEvents.at, after.at), lt(auditEvents.id, after.id)))
          : undefined,
      ),
    )
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(query.limit + 1);
  return { rows: rows.slice(0, query.limit), more: rows.length > query.limit };
}
