/**
 * Audit retention: the maintenance sweep deletes audit rows older than
 * AUDIT_RETENTION_DAYS. It deletes in bounded batches, oldest first, so one
 * sweep never holds D1 for long; a backlog (a lowered retention) is worked off
 * over the following sweeps.
 */

import { inArray, lt } from "drizzle-orm";
import { configFrom } from "../config";
import { database } from "../db/client";
import { auditEvents } from "../db/schema";

const BATCH = 500;
const BATCHES_PER_SWEEP = 20;

export interface AuditSweepReport {
  deleted: number;
  cutoff: string;
}

export async function sweepAudit(env: Env, now = Date.now()): Promise<AuditSweepReport> {
  const db = database(env.DB);
  const cutoff = new Date(now - configFrom(env).AUDIT_RETENTION_DAYS * 86_400_000);
  let deleted = 0;
  for (let batch = 0; batch < BATCHES_PER_SWEEP; batch++) {
    const oldest = db
      .select({ id: auditEvents.id })
      .from(auditEvents)
      .where(lt(auditEvents.at, cutoff))
      .orderBy(auditEvents.at)
      .limit(BATCH);
    const gone = await db.delete(auditEvents).where(inArray(auditEvents.id, oldest)).returning({ id: auditEvents.id });
    deleted += gone.length;
    if (gone.length < BATCH) break;
  }
  return { deleted, cutoff: cutoff.toISOString() };
}
