/** Reading tasks back: the D1 record with its jobs, for their owner only. */
import { and, asc, eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { jobs, tasks } from "../../db/schema";

export type TaskRow = typeof tasks.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;

/** The outputs a completed job submitted (its `derived_manifest`), none otherwise. */
export function manifestOf(job: JobRow): { kind: string; ref: string }[] {
  const manifest = job.result?.derived_manifest;
  return Array.isArray(manifest) ? (manifest as { kind: string; ref: string }[]) : [];
}

/** Someone else's task is reported exactly like a missing one. */
export async function findTask(
  db: Database,
  taskId: string,
  ownerPrincipalId: number,
): Promise<{ task: TaskRow; jobs: JobRow[] } | undefined> {
  const [task] = await db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.ownerPrincipalId, ownerPrincipalId)))
    .limit(1);
  if (!task) return undefined;
  const rows = await db.select().from(jobs).where(eq(jobs.taskId, taskId)).orderBy(asc(jobs.createdAt));
  return { task, jobs: rows };
}

/** Who a task belongs to and which surface made it: job outputs are stored as theirs. */
export async function ownerOfTask(
  db: Database,
  taskId: string,
): Promise<Pick<TaskRow, "ownerPrincipalId" | "surface">> {
  const [row] = await db
    .select({ ownerPrincipalId: tasks.ownerPrincipalId, surface: tasks.surface })
    .from(tasks)
    .where(eq(tasks.id, taskId))
    .limit(1);
  if (!row) throw new Error(`task ${taskId} of a held job is missing`);
  return row;
}
