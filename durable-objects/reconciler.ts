/**
 * Reconciler: the maintenance alarm. Every RECONCILE_INTERVAL_S it repairs
 * jobs (worker/core/jobs/reconcile.ts), deletes expired media
 * (worker/core/media/expiry.ts) and audit rows past their retention
 * (worker/core/audit-retention.ts). Alarms fire locally too, unlike cron
 * triggers; worker/core/maintenance.ts arms it once per isolate.
 */
import { DurableObject } from "cloudflare:workers";
import { configFrom } from "../worker/config";
import { type AuditSweepReport, sweepAudit } from "../worker/core/audit-retention";
import { type SweepReport, sweep } from "../worker/core/jobs/reconcile";
import { type MediaSweepReport, sweepMedia } from "../worker/core/media/expiry";

export const RECONCILER_NAME = "global";

export class Reconciler extends DurableObject<Env> {
  async ensureScheduled(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.schedule();
  }

  /** Runs the job sweep now (operators and tests); the periodic one keeps its schedule. */
  sweepNow(now = Date.now()): Promise<SweepReport> {
    return sweep(this.env, now);
  }

  /** Runs the media sweep now (operators and tests). */
  sweepMediaNow(now = Date.now()): Promise<MediaSweepReport> {
    return sweepMedia(this.env, now);
  }

  /** Runs the audit retention sweep now (operators and tests). */
  sweepAuditNow(now = Date.now()): Promise<AuditSweepReport> {
    return sweepAudit(this.env, now);
  }

  override async alarm(): Promise<void> {
    try {
      // Each sweep on its own: a failing one must not starve the others.
      const [jobs, media, audit] = await Promise.allSettled([
        sweep(this.env),
        sweepMedia(this.env),
        sweepAudit(this.env),
      ]);
      for (const [name, result] of [
        ["jobs", jobs],
        ["media", media],
        ["audit", audit],
      ] as const) {
        if (result.status === "rejected") {
          console.error(JSON.stringify({ level: "error", sweep_failed: name, error: String(result.reason) }));
        }
      }
      if (jobs.status === "fulfilled" && (jobs.value.reboarded.length || jobs.value.failed.length)) {
        console.log(JSON.stringify({ level: "info", reconciled: jobs.value }));
      }
      if (media.status === "fulfilled" && (media.value.deleted.length || media.value.abortedUploads.length)) {
        console.log(JSON.stringify({ level: "info", media_expired: media.value }));
      }
      if (audit.status === "fulfilled" && audit.value.deleted) {
        console.log(JSON.stringify({ level: "info", audit_expired: audit.value }));
      }
    } finally {
      await this.schedule();
    }
  }

  private schedule(): Promise<void> {
    return this.ctx.storage.setAlarm(Date.now() + configFrom(this.env).RECONCILE_INTERVAL_S * 1000);
  }
}
