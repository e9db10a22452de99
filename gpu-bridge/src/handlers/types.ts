/**
 * What a handler is: one capability (contract 003's `domain.function@N`) for
 * one job type of worker/contracts/job-types.ts, a detect() that says whether
 * this host can run it, and run() that turns downloaded inputs into a
 * ProcessingResult. The job's lifecycle (lease, heartbeats, scratch dir,
 * download, submit) is not a handler's business: see job-run.ts.
 */
import type { z } from "zod";
import type { Job, JobInput, processingResultSchema } from "../../../worker/contracts/agent-protocol";
import type { JobType } from "../../../worker/contracts/job-types";

export interface Detection {
  available: boolean;
  /** What was found ("ffprobe version 5.1.9") or what is missing. */
  detail: string;
}

export interface InputFile {
  input: JobInput;
  /** Absolute path of the downloaded bytes, inside the job's scratch dir. */
  path: string;
}

export interface ProgressUpdate {
  /** Fraction of the handler's own work done, 0..1 (the runner maps it into the job's overall progress). */
  fraction: number;
  stage: string;
  message?: string;
}

export interface HandlerContext {
  job: Job;
  /** By input name (e.g. "source"); every input the job type declares is present. */
  inputs: ReadonlyMap<string, InputFile>;
  /** Private to this job and removed afterwards; write outputs here. */
  scratchDir: string;
  /** Aborted when the lease is lost or the bridge stops: pass it to every child process. */
  signal: AbortSignal;
  progress(update: ProgressUpdate): void;
}

/**
 * A file the handler wrote in its scratch dir, for the runner to verify is
 * there, upload through the chunked upload API and list in derived_manifest.
 * `kind` is one of the job type's outputs (worker/contracts/job-types.ts).
 */
export interface OutputFile {
  kind: string;
  path: string;
  contentType: string;
}

/**
 * What run() returns; defaults (warnings [], metrics {}) are filled in by the
 * schema. A handler never fills derived_manifest itself: it returns `outputs`.
 */
export type HandlerResult = Omit<z.input<typeof processingResultSchema>, "derived_manifest"> & {
  outputs?: OutputFile[];
};

export interface Handler {
  capability: string;
  jobType: JobType;
  detect(signal?: AbortSignal): Promise<Detection>;
  run(context: HandlerContext): Promise<HandlerResult>;
}
