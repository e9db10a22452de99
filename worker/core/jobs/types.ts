/**
 * The shapes passed between the request path, the JobBoard, the TaskRoom and
 * the D1 projection. Times are epoch milliseconds.
 */
import type { JobType } from "../../contracts/job-types";

export interface BoardInput {
  name: string;
  artifactId: string;
  r2Key: string;
  contentType: string;
  sizeBytes: number;
}

/** Everything a board needs to offer a job without reading D1 again. */
export interface BoardJob {
  id: string;
  taskId: string;
  jobType: JobType;
  params: Record<string, unknown>;
  inputs: BoardInput[];
  /** Attempts already used (non-zero when the reconciler re-boards a job). */
  attempts: number;
  maxAttempts: number;
  startDeadlineAt: number | null;
  createdAt: number;
}

/** Who is asking a board: a registered bridge process of an agent principal. */
export interface AgentRef {
  agentId: string;
  principalId: number;
  capacityAccountId: string | null;
  /** Jobs this agent may hold at once on one board (server_policy.max_parallel_jobs_allowed). */
  maxParallel: number;
}

export interface JobError {
  code: string;
  message: string;
}

/**
 * A transition a board has made durable in its own storage and must now
 * project: to D1 (the record), and to the task's TaskRoom (live state).
 */
export type JobEvent =
  | {
      type: "claimed";
      jobId: string;
      taskId: string;
      at: number;
      attempt: number;
      agentId: string;
      lockedUntil: number;
    }
  | {
      type: "requeued";
      jobId: string;
      taskId: string;
      at: number;
      attempt: number;
      retryAt: number;
      error: JobError;
    }
  | {
      type: "completed";
      jobId: string;
      taskId: string;
      at: number;
      attempt: number;
      result: Record<string, unknown>;
    }
  | {
      type: "failed";
      jobId: string;
      taskId: string;
      at: number;
      attempt: number;
      error: JobError;
      /** Attempts exhausted or never started: recorded as a dead letter in the audit log. */
      deadLetter: boolean;
    };

export interface Progress {
  progress?: number;
  stage?: string;
  message?: string;
}
