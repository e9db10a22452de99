/**
 * Where a job lives: one JobBoard per `<job_type>#<shard>`. A job's shard is a
 * hash of its id, so every caller finds the same board without a lookup table.
 */
import type { JobBoard } from "../../../durable-objects/job-board";
import type { TaskRoom } from "../../../durable-objects/task-room";
import { JOB_TYPE_NAMES, JOB_TYPES, type JobType } from "../../contracts/job-types";

/**
 * The RPC surface of an object as callers see it: every method async. The
 * generated stub types drop any result branch holding `unknown` (job params and
 * results are free-form JSON, which structured clone carries fine), so callers
 * get the methods' own types through this one cast.
 */
type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};
export type BoardStub = Remote<
  Pick<
    JobBoard,
    | "enqueue"
    | "list"
    | "waitForWork"
    | "claim"
    | "heartbeat"
    | "lease"
    | "submit"
    | "fail"
    | "abandon"
    | "has"
    | "stats"
    | "presence"
    | "flush"
  >
>;
export type RoomStub = Remote<Pick<TaskRoom, "applyJobEvents" | "progress" | "state" | "events" | "fetch">>;

function board(env: Env, name: string): BoardStub {
  return env.JOB_BOARD.getByName(name) as unknown as BoardStub;
}

/** FNV-1a: cheap, stable across isolates, spreads UUIDs evenly. */
function hash(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function boardName(jobType: JobType, jobId: string): string {
  return `${jobType}#${hash(jobId) % JOB_TYPES[jobType].shards}`;
}

export function boardFor(env: Env, jobType: JobType, jobId: string): BoardStub {
  return board(env, boardName(jobType, jobId));
}

/** Jobs grouped by the board that holds them, so each board is called once for its share. */
export function byBoard<T extends { jobType: JobType; id: string }>(jobs: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const job of jobs) {
    const name = boardName(job.jobType, job.id);
    groups.set(name, [...(groups.get(name) ?? []), job]);
  }
  return [...groups.values()];
}

/** Every board holding jobs of these types (all types by default), with its name. */
export function namedBoards(
  env: Env,
  jobTypes: readonly JobType[] = JOB_TYPE_NAMES,
): { name: string; board: BoardStub }[] {
  return jobTypes.flatMap((type) =>
    Array.from({ length: JOB_TYPES[type].shards }, (_, shard) => {
      const name = `${type}#${shard}`;
      return { name, board: board(env, name) };
    }),
  );
}

/** Every board holding jobs of these types. */
export function boardsOf(env: Env, jobTypes: readonly JobType[]): BoardStub[] {
  return namedBoards(env, jobTypes).map((named) => named.board);
}

export function roomFor(env: Env, taskId: string): RoomStub {
  return env.TASK_ROOM.getByName(taskId) as unknown as RoomStub;
}
