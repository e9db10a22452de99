/**
 * A generation's state now, with contract 000's deadlines applied when it is
 * read (the original judged them on read too; a task nobody polls still ends,
 * by its board's start deadline or its lease).
 *  - Pending, and no live bridge able to run it has started it within
 *    GENERATION_START_TIMEOUT_S of being queued: worker_start_timeout.
 *  - Pending behind busy bridges longer than the type's queue limit
 *    (GENERATION_IMAGE_QUEUE_S / _VIDEO_): worker_start_timeout too (the
 *    board's start deadline, not_started, says the same for a first attempt).
 *  - Running with no progress for GENERATION_STALL_S: processing_stall_timeout.
 * A failure is the job's, made on its board: the lease holder is stopped at
 * its next heartbeat and a late result is refused, never applied.
 */
import { configFrom } from "../../config";
import type { TaskStatus } from "../../db/schema";
import { roomFor } from "../jobs/boards";
import type { JobError } from "../jobs/types";
import { capacityFor } from "./capacity";
import { JOB_TYPE_OF, queueLimitS } from "./plan";
import { abandonJob, type Generation } from "./tasks";

export const WORKER_START_TIMEOUT = "worker_start_timeout";
const PROCESSING_STALL_TIMEOUT = "processing_stall_timeout";

export interface LiveState {
  status: TaskStatus;
  /** 0..1 */
  progress: number;
  stage: string | null;
  error: JobError | null;
}

export async function currentState(env: Env, generation: Generation, now = Date.now()): Promise<LiveState> {
  const { task, job, record } = generation;
  const recorded: LiveState = {
    status: task.status,
    progress: task.progress / 1000,
    stage: task.stage,
    error: task.errorCode ? { code: task.errorCode, message: task.errorMessage ?? "" } : null,
  };
  // D1 is current for everything but a running task's progress: the TaskRoom writes it at each transition.
  if (task.status === "done" || task.status === "failed") return recorded;
  const config = configFrom(env);
  if (task.status === "pending") {
    // A claimed job has started (its first heartbeat is on its way); only an unclaimed one waits.
    if (job.status !== "pending") return recorded;
    // Queued at dispatch, or again after a lost lease: the job row changed then.
    const waitedS = (now - job.updatedAt.getTime()) / 1000;
    const queueS = queueLimitS(config, record.type);
    if (waitedS > queueS) {
      return fail(
        env,
        generation,
        WORKER_START_TIMEOUT,
        `Not started within ${queueS} s: every GPU bridge stayed busy`,
      );
    }
    if (waitedS > config.GENERATION_START_TIMEOUT_S && !(await capacityFor(env, JOB_TYPE_OF[record.type], now)).live) {
      return fail(
        env,
        generation,
        WORKER_START_TIMEOUT,
        `No live GPU bridge able to run ${record.model} started this within ${config.GENERATION_START_TIMEOUT_S} s`,
      );
    }
    return recorded;
  }
  const live = await roomFor(env, task.id).state(task.id);
  if (live.status === "running" && live.progressed_at !== null) {
    const stillS = (now - live.progressed_at) / 1000;
    if (stillS > config.GENERATION_STALL_S) {
      return fail(env, generation, PROCESSING_STALL_TIMEOUT, `No progress for ${Math.floor(stillS)} s`);
    }
  }
  return live;
}

async function fail(env: Env, generation: Generation, code: string, message: string): Promise<LiveState> {
  await abandonJob(env, generation.job, { code, message }, true);
  // The board has projected its verdict (or an earlier one, if the job finished meanwhile): the room has it.
  return roomFor(env, generation.task.id).state(generation.task.id);
}
