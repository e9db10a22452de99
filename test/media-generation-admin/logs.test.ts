/**
 * GET /admin/logs: newest first, filtered by action, actor and time, paged by
 * cursor; and the maintenance sweep's retention (AUDIT_RETENTION_DAYS, 90 by
 * default) deleting only what is older.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { RECONCILER_NAME } from "../../durable-objects/reconciler";
import { recordAudit } from "../../worker/core/audit";
import { auditEvents } from "../../worker/db/schema";
import { adminCall } from "../helpers/accounts";
import { ago, db } from "../helpers/fixtures";
import { expect000 } from "../helpers/http";
import { makeOperator, type Operator } from "../helpers/jobs";

interface LogsJson {
  logs: { id: number; ts: string; action: string; actor: string; success: boolean; details: unknown }[];
  next_cursor: string | null;
}

/** Audit rows with an action no other test writes, at the given ages (seconds ago). */
async function seedRows(action: string, ages: number[], actor = "system"): Promise<void> {
  await db()
    .insert(auditEvents)
    .values(ages.map((age, index) => ({ action, actor, success: true, at: ago(age), details: { n: index } })));
}

async function logs(op: Operator, query: string): Promise<LogsJson> {
  const response = await adminCall(op, `/admin/logs?${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as LogsJson;
}

describe("GET /admin/logs", () => {
  it("lists events newest first, filtered by action", async () => {
    const op = await makeOperator();
    const action = `test_${crypto.randomUUID()}`;
    await seedRows(action, [30, 10, 20]);
    const page = await logs(op, `action=${action}`);
    expect(page.logs.map((row) => row.details)).toEqual([{ n: 1 }, { n: 2 }, { n: 0 }]);
    expect(page.logs[0]).toMatchObject({ action, actor: "system", success: true, ts: expect.any(String) });
    expect(page.next_cursor).toBeNull();
  });

  it("filters by actor, and by time: since inclusive, until exclusive", async () => {
    const op = await makeOperator();
    const action = `test_${crypto.randomUUID()}`;
    await seedRows(action, [3600, 600, 60], "system");
    await seedRows(action, [300], `admin:${op.adminId}`);

    const byActor = await logs(op, `action=${action}&actor=admin:${op.adminId}`);
    expect(byActor.logs).toHaveLength(1);

    const since = ago(900).toISOString();
    const until = ago(120).toISOString();
    const window = await logs(op, `action=${action}&since=${since}&until=${until}`);
    expect(window.logs.map((row) => row.actor)).toEqual([`admin:${op.adminId}`, "system"]);
  });

  it("pages with limit and next_cursor, without repeating or skipping a row", async () => {
    const op = await makeOperator();
    const action = `test_${crypto.randomUUID()}`;
    // Two rows in the same millisecond: the id breaks the tie.
    const at = ago(5);
    await db()
      .insert(auditEvents)
      .values([0, 1, 2, 3, 4].map((n) => ({ action, actor: "system", success: true, at: n < 2 ? at : ago(n * 10) })));
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: LogsJson = await logs(op, `action=${action}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.logs.map((row) => row.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });

  it("the admin's own calls appear in the log", async () => {
    const op = await makeOperator();
    await adminCall(op, "/admin/accounts");
    const page = await logs(op, `actor=admin:${op.adminId}&action=account_list`);
    expect(page.logs[0]).toMatchObject({ action: "account_list", success: true });
  });

  it("refuses a malformed cursor, time or limit with 422", async () => {
    const op = await makeOperator();
    for (const query of ["cursor=abc", "since=yesterday", "limit=0", "limit=501"]) {
      await expect000(await adminCall(op, `/admin/logs?${query}`), 422, "validation_error");
    }
  });

  it("needs the admin session", async () => {
    await expect000(await adminCall({ cookies: {}, adminId: 0 }, "/admin/logs"), 401, "admin_session_required");
  });
});

describe("audit retention", () => {
  it("the maintenance sweep deletes rows older than AUDIT_RETENTION_DAYS and keeps the rest", async () => {
    const action = `test_${crypto.randomUUID()}`;
    const day = 86_400;
    await seedRows(action, [100 * day, 91 * day, 89 * day, 60]);
    const reconciler = env.RECONCILER.getByName(RECONCILER_NAME);
    const report = await reconciler.sweepAuditNow();
    expect(report.deleted).toBeGreaterThanOrEqual(2);
    const left = await db()
      .select()
      .from(auditEvents)
      .where(inArray(auditEvents.action, [action]));
    expect(left.map((row) => row.details)).toEqual([{ n: 2 }, { n: 3 }]);
  });

  it("runs on the reconciler's alarm beside the job and media sweeps", async () => {
    const action = `test_${crypto.randomUUID()}`;
    await seedRows(action, [120 * 86_400]);
    await recordAudit(db(), { action, actor: "system", success: true });
    const reconciler = env.RECONCILER.getByName(RECONCILER_NAME);
    await reconciler.ensureScheduled();
    expect(await runDurableObjectAlarm(reconciler)).toBe(true);
    const left = await db()
      .select()
      .from(auditEvents)
      .where(inArray(auditEvents.action, [action]));
    expect(left).toHaveLength(1);
  });
});
