/**
 * Projects job transitions, already durable on a JobBoard, in two steps: to
 * the D1 record (`recordJobEvents`), then to each task's TaskRoom
 * (`tellRooms`, all but claims: see below). Every D1 statement is conditional
 * (on the job's status; the dead-letter audit row on there being none yet), so
 * replaying an event changes nothing and a late event never reopens a finished job.
 */
import { and, eq, inArray, notInArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { database } from "../../db/client";
import { auditEvents, jobs } from "../../db/schema";
import { roomFor } from "./boards";
import type { JobEvent } from "./types";

const FINISHED: ("completed" | "failed")[] = ["completed", "failed"];

/** Both steps, for callers without an outbox of their own (the queue consumers). */
export async function projectJobEvents(env: Env, events: readonly JobEvent[]): Promise<void> {
  await recordJobEvents(env, events);
  const { failedTasks, firstError } = await tellRooms(env, events);
  if (failedTasks.size > 0) throw firstError;
}

export async function recordJobEvents(env: Env, events: readonly JobEvent[]): Promise<void> {
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
          const details = JSON.stringify({ task_id: event.taskId, attempt: event.attempt, error: event.error });
          // Insert-select writes every column in table order: id (NULL = next), at, request_id, ip,
          // principal_id, actor, action, target, success, details — only if no row exists yet.
          statements.push(
            db.insert(auditEvents).select(
              sql`SELECT NULL, ${event.at}, NULL, NULL, NULL, 'system', 'job.dead_letter', ${event.jobId}, 0, ${details}
                WHERE NOT EXISTS (SELECT 1 FROM ${auditEvents}
                  WHERE ${auditEvents.action} = 'job.dead_letter' AND ${auditEvents.target} = ${event.jobId})`,
            ),
          );
        }
        break;
    }
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

/**
 * One call per task with its events in order. Each task's outcome is its own,
 * so one unreachable room cannot hold up the others: the tasks whose room
 * failed are returned, for the caller to retry.
 */
export async function tellRooms(
  env: Env,
  events: readonly JobEvent[],
): Promise<{ failedTasks: Set<string>; firstError: unknown }> {
  const byTask = new Map<string, JobEvent[]>();
  for (const event of events) {
    // Claims are not sent: a room call per claim would double a claim's cost. The room (and so
    // the task row it owns) hears of a claim from the holder's first heartbeat, or at the
    // latest from the job's outcome.
    if (!forRoom(event)) continue;
    byTask.set(event.taskId, [...(byTask.get(event.taskId) ?? []), event]);
  }
  const tasks = [...byTask];
  const results = await Promise.allSettled(
    tasks.map(([taskId, taskEvents]) => roomFor(env, taskId).applyJobEvents(taskId, taskEvents)),
  );
  const failedTasks = new Set<string>();
  let firstError: unknown;
  results.forEach((result, index) => {
    if (result.status === "fulfilled") return;
    failedTasks.add(tasks[index]?.[0] ?? "");
    firstError ??= result.reason;
  });
  return { failedTasks, firstError };
}

/** The events a TaskRoom is told of. */
function forRoom(event: JobEvent): boolean {
  return event.type !== "claimed";
}
