/**
 * Reconciler: one object whose alarm runs the repair sweep every
 * RECONCILE_INTERVAL_S. Alarms fire locally too, unlike cron triggers; the
 * first dispatch in each isolate makes sure the alarm is armed.
 */
import { DurableObject } from "cloudflare:workers";
import { configFrom } from "../worker/config";
import { type SweepReport, sweep } from "../worker/core/jobs/reconcile";

export const RECONCILER_NAME = "global";

export class Reconciler extends DurableObject<Env> {
  async ensureScheduled(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.schedule();
  }

  /** Runs a sweep now (operators and tests); the periodic one keeps its schedule. */
  sweepNow(now = Date.now()): Promise<SweepReport> {
    return sweep(this.env, now);
  }

  override async alarm(): Promise<void> {
    try {
      const report = await sweep(this.env);
      if (report.reboarded.length || report.failed.length) {
        console.log(JSON.stringify({ level: "info", reconciled: report }));
      }
    } finally {
      await this.schedule();
    }
  }

  private schedule(): Promise<void> {
    return this.ctx.storage.setAlarm(Date.now() + configFrom(this.env).RECONCILE_INTERVAL_S * 1000);
  }
}
