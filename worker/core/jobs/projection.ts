/**
 * Projects job transitions, already durable on a JobBoard, to the D1 record
 * and to each task's TaskRoom (all but claims: see below). Every statement is conditional on the row's
 * current status, so replaying an event (a retried outbox flush) changes
 * nothing, and a late event can never reopen a finished job.
 */
import { and, eq, inArray, notInArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { database } from "../../db/client";
import { auditEvents, jobs } from "../../db/schema";
import { roomFor } from "./boards";
import type { JobEvent } from "./types";

const FINISHED: ("completed" | "failed")[] = ["completed", "failed"];

export async function projectJobEvents(env: Env, events: readonly JobEvent[]): Promise<void> {
  if (events.length === 0) return;
  const db = database(env.DB);
  const statements: BatchItem<"sqlite">[] = [];
  for (const event of events) {
    const at = new Date(event.at);
    const open = and(eq(jobs.id, event.jobId), notInArray(jobs.status, FINISHED));
    switch (event.type) {
      case "claimed":
        statements.push(
          db
            .update(jobs)
            .set({
              status: "claimed",
              attempts: event.attempt,
              agentId: event.agentId,
              lockedUntil: new Date(event.lockedUntil),
              boardedAt: sql`coalesce(${jobs.boardedAt}, ${event.at})`,
              updatedAt: at,
            })
            .where(open),
        );
        break;
      case "requeued":
        statements.push(
          db
            .update(jobs)
            .set({
              status: "pending",
              attempts: event.attempt,
              agentId: null,
              lockedUntil: null,
              errorCode: event.error.code,
              errorMessage: event.error.message,
              updatedAt: at,
            })
            .where(and(open, inArray(jobs.status, ["pending", "claimed"]))),
        );
        break;
      case "completed":
        statements.push(
          db
            .update(jobs)
            .set({
              status: "completed",
              attempts: event.attempt,
              result: event.result,
              errorCode: null,
              errorMessage: null,
              lockedUntil: null,
              updatedAt: at,
              finishedAt: at,
            })
            .where(open),
        );
        break;
      case "failed":
        statements.push(
          db
            .update(jobs)
            .set({
              status: "failed",
              attempts: event.attempt,
              errorCode: event.error.code,
              errorMessage: event.error.message,
              lockedUntil: null,
              updatedAt: at,
              finishedAt: at,
            })
            .where(open),
        );
        if (event.deadLetter) {
          statements.push(
            db.insert(auditEvents).values({
              actor: "system",
              action: "job.dead_letter",
              target: event.jobId,
              success: false,
              details: { task_id: event.taskId, attempt: event.attempt, error: event.error },
            }),
          );
        }
        break;
    }
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);

  const byTask = new Map<string, JobEvent[]>();
  for (const event of events) {
    // Claims are not sent: a room call per claim would double a claim's cost. The room (and so
    // the task row it owns) hears of a claim from the holder's first heartbeat, which a bridge
    // sends as the job starts, or at the latest from the job's outcome.
    if (event.type === "claimed") continue;
    byTask.set(event.taskId, [...(byTask.get(event.taskId) ?? []), event]);
  }
  await Promise.all([...byTask].map(([taskId, taskEvents]) => roomFor(env, taskId).applyJobEvents(taskId, taskEvents)));
}
