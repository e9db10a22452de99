/**
 * Creating work: the task and its jobs are written to D1 first, then each job
 * is handed to its JobBoard directly (unless the surface asks otherwise:
 * `direct`) and announced on the `jobs` queue (the durable backstop; marked
 * `boarded` when its board already took it). Enqueue is idempotent, so
 * whichever path arrives second is a no-op; the queue consumer stamps
 * `boarded_at`. When one path fails the other delivers; if both fail, the
 * reconciler finds the job unboarded in D1 and hands it over. Nothing written
 * is ever lost.
 */
import { and, eq, inArray, isNull } from "drizzle-orm";
import { z } from "zod";
import { configFrom } from "../../config";
import { inputNameProblems, isJobType, JOB_TYPES, type JobType } from "../../contracts/job-types";
import { type Database, database } from "../../db/client";
import { artifacts, jobs, tasks } from "../../db/schema";
import { ApiError } from "../../errors/api-error";
import { armMaintenance } from "../maintenance";
import { isGone } from "../media/artifacts";
import { boardFor, byBoard } from "./boards";
import type { BoardInput, BoardJob, JobEvent } from "./types";

export interface NewJob {
  jobType: string;
  params: Record<string, unknown>;
  /** Input name → artifact id; the artifacts must belong to the task's owner. */
  inputs: Record<string, string>;
}

export interface NewTask {
  ownerPrincipalId: number;
  surface: string;
  jobs: NewJob[];
  /** Jobs still unstarted past this instant fail as not_started. */
  startDeadlineAt?: Date | null;
  /** The surface's record of the request (what its listings and status render). */
  request?: Record<string, unknown> | null;
  /**
   * Hand the jobs to their boards on the request path (the default), so a
   * bridge with a free slot takes them at its next poll. False leaves them to
   * the queue, which boards them in batches: cheaper per job when every bridge
   * is busy and the jobs would wait on their boards anyway.
   */
  direct?: boolean;
}

/** The two ways a job reaches its board; tests replace them to inject failures. */
export interface HandOff {
  /** Jobs that share one board (see byBoard). */
  toBoard(env: Env, jobs: BoardJob[]): Promise<{ added: boolean[] }>;
  toQueue(env: Env, messages: JobMessage[]): Promise<unknown>;
}

export const handOff: HandOff = {
  toBoard: (env, jobs) => {
    const [first] = jobs;
    return first ? boardFor(env, first.jobType, first.id).enqueue(jobs) : Promise.resolve({ added: [] });
  },
  toQueue: (env, messages) => env.JOBS.sendBatch(messages.map((body) => ({ body }))),
};

/** A `jobs` queue message: a job to board, or (`boarded`) one its dispatcher saw a board accept. */
export const jobMessageSchema = z.object({ job_id: z.string().uuid(), boarded: z.literal(true).optional() });
export type JobMessage = z.infer<typeof jobMessageSchema>;

export async function dispatchTask(
  env: Env,
  input: NewTask,
  via: HandOff = handOff,
  defer?: (work: Promise<unknown>) => void,
): Promise<{ taskId: string; jobIds: string[] }> {
  const db = database(env.DB);
  const { JOB_MAX_ATTEMPTS } = configFrom(env);
  const now = Date.now();
  const taskId = crypto.randomUUID();
  const planned = await Promise.all(
    input.jobs.map(async (job) => {
      const jobType = checkedJobType(job);
      const params = parseParams(jobType, job.params);
      return {
        id: crypto.randomUUID(),
        jobType,
        params,
        inputs: await resolveInputs(db, jobType, job.inputs, params, input.ownerPrincipalId),
        inputIds: job.inputs,
      };
    }),
  );
  if (planned.length === 0) throw new ApiError("validation_failed", "A task needs at least one job");

  await db.batch([
    db.insert(tasks).values({
      id: taskId,
      ownerPrincipalId: input.ownerPrincipalId,
      surface: input.surface,
      startDeadlineAt: input.startDeadlineAt ?? null,
      request: input.request ?? null,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    }),
    ...planned.map((job) =>
      db.insert(jobs).values({
        id: job.id,
        taskId,
        jobType: job.jobType,
        params: job.params,
        inputs: job.inputIds,
        maxAttempts: JOB_MAX_ATTEMPTS,
        createdAt: new Date(now),
        updatedAt: new Date(now),
      }),
    ),
  ]);

  const boardJobs: BoardJob[] = planned.map((job) => ({
    id: job.id,
    taskId,
    jobType: job.jobType,
    params: job.params,
    inputs: job.inputs,
    attempts: 0,
    maxAttempts: JOB_MAX_ATTEMPTS,
    startDeadlineAt: input.startDeadlineAt?.getTime() ?? null,
    createdAt: now,
  }));
  const jobIds = boardJobs.map((job) => job.id);
  // One hand-off is awaited before the request answers: the direct one to the board (the
  // job is claimable when the request returns), or, for jobs no board took, the queue's. The
  // queue backstop behind a direct hand-off and the reconciler's alarm may finish after the
  // response (`defer`, the route's waitUntil). Its message says the board already accepted
  // the job (durably: the board's write is committed before its answer), so the consumer only
  // records that instead of boarding it again. The task's room opens when something first
  // happens to it.
  const accepted = new Set<string>();
  const toBoards = (jobs: BoardJob[]) =>
    Promise.all(
      byBoard(jobs).map(async (group) => {
        const ids = group.map((job) => job.id);
        if (await tryHandOff("board", () => via.toBoard(env, group), ids.join(","))) {
          for (const id of ids) accepted.add(id);
        }
      }),
    );
  if (input.direct ?? true) await toBoards(boardJobs);
  const messages = jobIds.map((jobId) => ({
    job_id: jobId,
    ...(accepted.has(jobId) ? { boarded: true as const } : {}),
  }));
  const queued = tryHandOff("queue", () => via.toQueue(env, messages), taskId);
  const maintenance = armMaintenance(env);
  if (defer && accepted.size === jobIds.length) {
    defer(queued);
    defer(maintenance);
    return { taskId, jobIds };
  }
  const [sent] = await Promise.all([queued, maintenance]);
  // The queue was their only way: hand what no board took over directly after all.
  if (!sent) await toBoards(boardJobs.filter((job) => !accepted.has(job.id)));
  return { taskId, jobIds };
}

/**
 * Rebuilds what a board needs from the D1 record (queue consumer, reconciler).
 * A job that can no longer run (its type is gone, an input was deleted) comes
 * back as a `failed` event for the caller to project, never as an exception
 * that would stall every other job of the batch.
 */
export async function loadBoardJobs(
  db: Database,
  jobIds: string[],
  options: { unboardedOnly?: boolean } = {},
): Promise<{ jobs: BoardJob[]; unrunnable: JobEvent[] }> {
  if (jobIds.length === 0) return { jobs: [], unrunnable: [] };
  const rows = await db
    .select({ job: jobs, task: { ownerPrincipalId: tasks.ownerPrincipalId, startDeadlineAt: tasks.startDeadlineAt } })
    .from(jobs)
    .innerJoin(tasks, eq(tasks.id, jobs.taskId))
    .where(
      and(
        inArray(jobs.id, jobIds),
        // Only jobs still waiting for a board (the queue consumer's case).
        options.unboardedOnly ? and(eq(jobs.status, "pending"), isNull(jobs.boardedAt)) : undefined,
      ),
    );
  const loaded: BoardJob[] = [];
  const unrunnable: JobEvent[] = [];
  for (const { job, task } of rows) {
    const fail = (code: string, message: string) =>
      unrunnable.push({
        type: "failed",
        jobId: job.id,
        taskId: job.taskId,
        at: Date.now(),
        attempt: job.attempts,
        error: { code, message },
        deadLetter: false,
      });
    if (!isJobType(job.jobType)) {
      fail("unknown_job_type", `No job type ${job.jobType} any more`);
      continue;
    }
    try {
      loaded.push({
        id: job.id,
        taskId: job.taskId,
        jobType: job.jobType,
        params: job.params,
        inputs: await resolveInputs(db, job.jobType, job.inputs, job.params, task.ownerPrincipalId),
        attempts: job.attempts,
        maxAttempts: job.maxAttempts,
        startDeadlineAt: task.startDeadlineAt?.getTime() ?? null,
        createdAt: job.createdAt.getTime(),
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      fail("input_missing", error.message);
    }
  }
  return { jobs: loaded, unrunnable };
}

/**
 * Records that boards hold these jobs (the queue consumer and the reconciler
 * confirm it off the request path), so the reconciler stops checking them.
 */
export async function markBoarded(db: Database, jobIds: string[], at = Date.now()): Promise<void> {
  if (jobIds.length === 0) return;
  await db
    .update(jobs)
    .set({ boardedAt: new Date(at) })
    .where(and(inArray(jobs.id, jobIds), isNull(jobs.boardedAt)));
}

/** A failed hand-off is logged, not thrown: the other path, or the reconciler, delivers the job. */
async function tryHandOff(path: "board" | "queue", send: () => Promise<unknown>, id: string): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (error) {
    console.error(JSON.stringify({ level: "warn", handoff_failed: path, id, error: String(error) }));
    return false;
  }
}

function checkedJobType(job: NewJob): JobType {
  if (!isJobType(job.jobType)) {
    throw new ApiError("validation_failed", `Unknown job type ${job.jobType}`, {
      issues: [
        {
          location: ["body", "job_type"],
          message: `expected one of ${Object.keys(JOB_TYPES).join(", ")}`,
          type: "enum",
        },
      ],
    });
  }
  return job.jobType;
}

function parseParams(jobType: JobType, params: Record<string, unknown>): Record<string, unknown> {
  const parsed = JOB_TYPES[jobType].params.safeParse(params);
  if (!parsed.success) {
    throw new ApiError("validation_failed", `Invalid params for ${jobType}`, {
      issues: parsed.error.issues.map((issue) => ({
        location: ["body", "params", ...issue.path.map(String)],
        message: issue.message,
        type: issue.code,
      })),
    });
  }
  return parsed.data;
}

async function resolveInputs(
  db: Database,
  jobType: JobType,
  inputs: Record<string, string>,
  params: Record<string, unknown>,
  ownerPrincipalId: number,
): Promise<BoardInput[]> {
  const problems = inputNameProblems(jobType, Object.keys(inputs), params);
  if (problems.length > 0) {
    throw new ApiError("validation_failed", `${jobType}: ${problems.join("; ")}`, {
      issues: problems.map((message) => ({ location: ["body", "inputs"], message, type: "custom" })),
    });
  }
  const ids = Object.values(inputs);
  const rows = ids.length
    ? await db
        .select()
        .from(artifacts)
        .where(and(inArray(artifacts.id, ids), eq(artifacts.ownerPrincipalId, ownerPrincipalId)))
    : [];
  return Object.entries(inputs).map(([name, artifactId]) => {
    const artifact = rows.find((row) => row.id === artifactId);
    // Someone else's artifact is reported exactly like a missing one.
    if (!artifact) throw new ApiError("not_found", `No artifact ${artifactId} for input ${name}`);
    if (isGone(artifact)) throw new ApiError("gone", `Input ${name} (artifact ${artifactId}) has expired`);
    return {
      name,
      artifactId,
      r2Key: artifact.r2Key,
      contentType: artifact.contentType,
      sizeBytes: artifact.sizeBytes,
    };
  });
}
