/**
 * The `jobs` queue consumer (the durable backstop of every hand-off) and the
 * dead-letter consumer. Messages carry a job id: the consumer re-reads the
 * job from D1, so a delivery after the fast path worked is a no-op. A message
 * marked `boarded` (its dispatcher saw the board accept the job) only needs
 * that recorded: one D1 write for the batch, no read, no board call.
 */
import { inArray } from "drizzle-orm";
import { isJobType } from "../../contracts/job-types";
import { database } from "../../db/client";
import { jobs } from "../../db/schema";
import { boardFor, byBoard } from "./boards";
import { type HandOff, handOff, jobMessageSchema, loadBoardJobs, markBoarded } from "./dispatch";
import { projectJobEvents } from "./projection";
import type { JobEvent } from "./types";

/** Redelivery waits grow with each attempt, capped at a minute. */
function retryDelaySeconds(attempts: number): number {
  return Math.min(60, 2 ** Math.max(0, attempts - 1));
}

function parsed(batch: MessageBatch<unknown>): { message: Message<unknown>; jobId: string; boarded: boolean }[] {
  return batch.messages.flatMap((message) => {
    const body = jobMessageSchema.safeParse(message.body);
    if (!body.success) {
      console.error(JSON.stringify({ level: "warn", queue_message_invalid: message.id }));
      message.ack();
      return [];
    }
    return [{ message, jobId: body.data.job_id, boarded: body.data.boarded === true }];
  });
}

export async function consumeJobs(
  batch: MessageBatch<unknown>,
  env: Env,
  via: Pick<HandOff, "toBoard"> = handOff,
): Promise<void> {
  const db = database(env.DB);
  const [confirmed, valid] = partition(parsed(batch), (entry) => entry.boarded);
  if (confirmed.length > 0) {
    await markBoarded(
      db,
      confirmed.map((entry) => entry.jobId),
    );
    for (const { message } of confirmed) message.ack();
  }
  const loaded = await loadBoardJobs(
    db,
    valid.map((entry) => entry.jobId),
    { unboardedOnly: true },
  );
  // A job that can no longer run fails with its reason instead of stalling the batch.
  await projectJobEvents(env, loaded.unrunnable);
  // One board at a time, each told its share in one call: a consumer dying half-way leaves
  // only the unfinished boards' messages unacknowledged, to be redelivered.
  const messages = new Map(valid.map((entry) => [entry.jobId, entry.message]));
  const boarded: string[] = [];
  for (const group of byBoard(loaded.jobs)) {
    const ids = group.map((job) => job.id);
    try {
      await via.toBoard(env, group);
      boarded.push(...ids);
      for (const id of ids) messages.get(id)?.ack();
    } catch (error) {
      console.error(JSON.stringify({ level: "warn", queue_handoff_failed: ids, error: String(error) }));
      for (const id of ids) {
        const message = messages.get(id);
        message?.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      }
    }
    for (const id of ids) messages.delete(id);
  }
  // The rest need nothing: already boarded, or finished, or unrunnable (failed above).
  for (const message of messages.values()) message.ack();
  await markBoarded(db, boarded);
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
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
  // A `boarded` message here is checked like any other: its board holds the job, so it is acknowledged.
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
