/**
 * The audit log: every authentication failure and every admin action lands
 * here with who, what, from where and whether it worked. Details must never
 * carry secrets; callers pass identifiers and reasons only.
 */
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
