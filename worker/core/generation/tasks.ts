/**
 * Contract 000's generations as stored: a task of surface "000" with its one
 * job and its record (`tasks.request`), read for its owner only — someone
 * else's looks exactly like a missing one. The gallery pages through the
 * owner's done generations newest first; deleting one takes its bytes, its
 * artifacts and its rows.
 */
import { and, desc, eq, inArray, lt, or } from "drizzle-orm";
import { base64url, fromBase64url } from "../../auth/crypto";
import { isJobType } from "../../contracts/job-types";
import { type Database, database } from "../../db/client";
import { artifacts, jobs, tasks } from "../../db/schema";
import { boardFor } from "../jobs/boards";
import { loadBoardJobs } from "../jobs/dispatch";
import { type JobRow, manifestOf, type TaskRow } from "../jobs/tasks";
import type { JobError } from "../jobs/types";
import { discardArtifacts } from "../media/artifacts";
import type { GenerationRecord } from "./plan";

/** The surface 000 tasks and their stored images are recorded under (and expire by). */
export const SURFACE = "000";

export interface Generation {
  task: TaskRow;
  job: JobRow;
  record: GenerationRecord;
}

/** An output of the generation's job: "image" or "video" (the result), "preview". */
export function outputRef(generation: Generation, kind: string): string | undefined {
  return manifestOf(generation.job).find((entry) => entry.kind === kind)?.ref;
}

export async function findGeneration(
  db: Database,
  taskId: string,
  ownerPrincipalId: number,
): Promise<Generation | undefined> {
  const [row] = await db
    .select({ task: tasks, job: jobs })
    .from(tasks)
    .innerJoin(jobs, eq(jobs.taskId, tasks.id))
    .where(and(eq(tasks.id, taskId), eq(tasks.ownerPrincipalId, ownerPrincipalId), eq(tasks.surface, SURFACE)))
    .limit(1);
  return row ? generationOf(row) : undefined;
}

/** Where a gallery page ends: the last item's creation time and id (ids break ties). */
interface GalleryCursor {
  createdAt: number;
  id: string;
}

/** Opaque to clients: base64url of "<created_at ms>.<task id>". */
export function encodeCursor(cursor: GalleryCursor): string {
  return base64url(new TextEncoder().encode(`${cursor.createdAt}.${cursor.id}`));
}

export function decodeCursor(value: string): GalleryCursor | undefined {
  let text: string;
  try {
    text = new TextDecoder().decode(fromBase64url(value));
  } catch {
    return undefined;
  }
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(text);
  return match ? { createdAt: Number(match[1]), id: match[2] as string } : undefined;
}

/** The owner's done generations, newest first, after `cursor`; `next` is set when more follow. */
export async function galleryPage(
  db: Database,
  ownerPrincipalId: number,
  page: { limit: number; cursor?: GalleryCursor },
): Promise<{ items: Generation[]; next: GalleryCursor | null }> {
  const { cursor } = page;
  const rows = await db
    .select({ task: tasks, job: jobs })
    .from(tasks)
    .innerJoin(jobs, eq(jobs.taskId, tasks.id))
    .where(
      and(
        eq(tasks.ownerPrincipalId, ownerPrincipalId),
        eq(tasks.surface, SURFACE),
        eq(tasks.status, "done"),
        cursor
          ? or(
              lt(tasks.createdAt, new Date(cursor.createdAt)),
              and(eq(tasks.createdAt, new Date(cursor.createdAt)), lt(tasks.id, cursor.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(tasks.createdAt), desc(tasks.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit).map(generationOf);
  const last = items.at(-1);
  return {
    items,
    next: rows.length > page.limit && last ? { createdAt: last.task.createdAt.getTime(), id: last.task.id } : null,
  };
}

/**
 * Fails the generation's job on its board now (a deadline passed, the task is
 * being deleted), then waits for the board to project it, so D1 and the
 * TaskRoom say so before the caller answers. A job still on its way to the
 * board (in the queue) is put there first, so its verdict is recorded and its
 * late delivery finds it finished. A job already finished is left as it is.
 */
export async function abandonJob(env: Env, job: JobRow, error: JobError, deadLetter: boolean): Promise<void> {
  if (!isJobType(job.jobType)) return;
  const board = boardFor(env, job.jobType, job.id);
  const first = await board.abandon(job.id, error, deadLetter);
  if (!first.ok && first.reason === "not_found") {
    const { jobs: loaded } = await loadBoardJobs(database(env.DB), [job.id]);
    if (loaded.length > 0) {
      await board.enqueue(loaded);
      await board.abandon(job.id, error, deadLetter);
    }
  }
  await board.flush();
}

/** Deletes a generation: an unfinished job is abandoned first, then the bytes, the artifacts' rows and the task. */
export async function deleteGeneration(env: Env, db: Database, generation: Generation): Promise<void> {
  const { task, job, record } = generation;
  if (task.status === "pending" || task.status === "running") {
    await abandonJob(env, job, { code: "deleted", message: "The task was deleted" }, false);
  }
  // Its outputs, and the inputs stored from its data URIs (uploads named by id stay their owner's).
  const owned = await db
    .select({ id: artifacts.id, r2Key: artifacts.r2Key })
    .from(artifacts)
    .where(
      and(
        eq(artifacts.ownerPrincipalId, task.ownerPrincipalId),
        or(eq(artifacts.jobId, job.id), inArray(artifacts.id, record.stored_inputs)),
      ),
    );
  await discardArtifacts(env, db, owned);
  // The job rows go with it (ON DELETE CASCADE).
  await db.delete(tasks).where(eq(tasks.id, task.id));
}

function generationOf(row: { task: TaskRow; job: JobRow }): Generation {
  return { ...row, record: row.task.request as unknown as GenerationRecord };
}
