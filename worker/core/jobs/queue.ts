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
import type { JobEvent } from "./types";

/** Redelivery waits grow with each attempt, capped at a minute. */
function retryDelaySeconds(attempts: number): number {
  return Math.min(60, 2 ** Math.max(0, attempts - 1));
}

function parsed(batch: MessageBatch<unknown>): { message: Message<unknown>; jobId: string }[] {
  return batch.messages.flatMap((message) => {
    const body = jobMessageSchema.safeParse(message.body);
    if (!body.success) {
      console.error(JSON.stringify({ level: "warn", queue_message_invalid: message.id }));
      message.ack();
      return [];
    }
    return [{ message, jobId: body.data.job_id }];
  });
}

export async function consumeJobs(
  batch: MessageBatch<unknown>,
  env: Env,
  via: Pick<HandOff, "toBoard"> = handOff,
): Promise<void> {
  const db = database(env.DB);
  const valid = parsed(batch);
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
  const loaded = await loadBoardJobs(db, needed);
  // A job that can no longer run fails with its reason instead of stalling the batch.
  await projectJobEvents(env, loaded.unrunnable);
  const boardJobs = new Map(loaded.jobs.map((job) => [job.id, job]));
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
 * board does not hold it, it fails with `dispatch_failed`, its task with it,
 * and the audit log records the dead letter. A board that cannot be asked is
 * asked again later (retry), never assumed empty. A job already failed this
 * way is projected again, so its room hears of it even if it missed it before.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = database(env.DB);
  const valid = parsed(batch);
  const rows = valid.length
    ? await db
        .select({
          id: jobs.id,
          taskId: jobs.taskId,
          status: jobs.status,
          jobType: jobs.jobType,
          attempts: jobs.attempts,
          errorCode: jobs.errorCode,
        })
        .from(jobs)
        .where(
          inArray(
            jobs.id,
            valid.map((entry) => entry.jobId),
          ),
        )
    : [];
  for (const { message, jobId } of valid) {
    const row = rows.find((candidate) => candidate.id === jobId);
    const stranded = row?.status === "pending" || (row?.status === "failed" && row.errorCode === "dispatch_failed");
    if (!row || !stranded) {
      message.ack();
      continue;
    }
    try {
      if (
        row.status === "pending" &&
        isJobType(row.jobType) &&
        (await boardFor(env, row.jobType, row.id).has(row.id))
      ) {
        message.ack();
        continue;
      }
      const event: JobEvent = {
        type: "failed",
        jobId: row.id,
        taskId: row.taskId,
        at: Date.now(),
        attempt: row.attempts,
        error: { code: "dispatch_failed", message: "The job could not be handed to a job board after repeated tries" },
        deadLetter: true,
      };
      await projectJobEvents(env, [event]);
      message.ack();
    } catch (error) {
      console.error(JSON.stringify({ level: "warn", dead_letter_retry: jobId, error: String(error) }));
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
