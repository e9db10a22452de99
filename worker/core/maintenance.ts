/**
 * The maintenance alarm (the Reconciler Durable Object) repairs jobs and
 * deletes expired media. Cron triggers do not fire locally, so the first
 * dispatch or upload in each isolate makes sure the alarm is armed; from then
 * on it re-arms itself.
 */
import { RECONCILER_NAME } from "../../durable-objects/reconciler";

let armed = false;

export async function armMaintenance(env: Env): Promise<void> {
  if (armed) return;
  try {
    await env.RECONCILER.getByName(RECONCILER_NAME).ensureScheduled();
    armed = true;
  } catch (error) {
    console.error(JSON.stringify({ level: "warn", maintenance_arm_failed: String(error) }));
  }
}
