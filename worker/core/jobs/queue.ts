/**
 * The `jobs` queue consumer (the durable backstop of every hand-off) and the
 * dead-letter consumer. Messages carry only a job id: the consumer re-reads
 * the job from D1, so a delivery after the fast path worked is a no-op.
 */
import { inArray } from "drizzle-orm";
import { isJobType } from "../../contracts/job-types";
import { database } from "../../db/client";
import { jobs } from "../../db/schema";
import { boardFor } from "./boards";
import { type HandOff, handOff, jobMessageSchema, loadBoardJobs, markBoarded } from "./dispatch";
import { projectJobEvents } from "./projection";

/** Redelivery waits grow with each attempt, capped at a minute. */
function retryDelaySeconds(attempts: number): number {
  return Math.min(60, 2 ** Math.max(0, attempts - 1));
}

export async function consumeJobs(
  batch: MessageBatch<unknown>,
  env: Env,
  via: Pick<HandOff, "toBoard"> = handOff,
): Promise<void> {
  const db = database(env.DB);
  const valid = batch.messages.flatMap((message) => {
    const parsed = jobMessageSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error(JSON.stringify({ level: "warn", queue_message_invalid: message.id }));
      message.ack();
      return [];
    }
    return [{ message, jobId: parsed.data.job_id }];
  });
  const rows = valid.length
    ? await db
        .select({ id: jobs.id, status: jobs.status, boardedAt: jobs.boardedAt })
        .from(jobs)
        .where(
          inArray(
            jobs.id,
            valid.map((entry) => entry.jobId),
          ),
        )
    : [];
  const needed = rows.filter((row) => row.status === "pending" && row.boardedAt === null).map((row) => row.id);
  const boardJobs = new Map((await loadBoardJobs(db, needed)).map((job) => [job.id, job]));
  // One message at a time: a consumer dying half-way leaves the rest unacknowledged, to be redelivered.
  const boarded: string[] = [];
  for (const { message, jobId } of valid) {
    const job = boardJobs.get(jobId);
    if (!job) {
      message.ack();
      continue;
    }
    try {
      await via.toBoard(env, job);
      boarded.push(jobId);
      message.ack();
    } catch (error) {
      console.error(JSON.stringify({ level: "warn", queue_handoff_failed: jobId, error: String(error) }));
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
  await markBoarded(db, boarded);
}

/**
 * Messages that kept failing: the job could not be handed to its board. If its
 * board still does not hold it (or cannot be asked), it fails with a clear
 * error, its task with it, and the audit log records the dead letter.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = database(env.DB);
  const ids = batch.messages.flatMap((message) => {
    const parsed = jobMessageSchema.safeParse(message.body);
    return parsed.success ? [parsed.data.job_id] : [];
  });
  const rows = ids.length
    ? await db
        .select({
          id: jobs.id,
          taskId: jobs.taskId,
          status: jobs.status,
          jobType: jobs.jobType,
          attempts: jobs.attempts,
        })
        .from(jobs)
        .where(inArray(jobs.id, ids))
    : [];
  const stranded = [];
  for (const row of rows) {
    if (row.status !== "pending") continue;
    const held = isJobType(row.jobType)
      ? await boardFor(env, row.jobType, row.id)
          .has(row.id)
          .catch(() => false)
      : false;
    if (!held) stranded.push(row);
  }
  await projectJobEvents(
    env,
    stranded.map((row) => ({
      type: "failed" as const,
      jobId: row.id,
      taskId: row.taskId,
      taskJobIds: [],
      at: Date.now(),
      attempt: row.attempts,
      error: { code: "dispatch_failed", message: "The job could not be handed to a job board after repeated tries" },
      deadLetter: true,
    })),
  );
  batch.ackAll();
}
