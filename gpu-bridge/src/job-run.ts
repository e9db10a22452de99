/**
 * One claimed job from lease to outcome: a private scratch dir, heartbeats,
 * input download, the handler, result validation, submit (or fail), cleanup.
 * Every path ends in exactly one terminal event (job.submitted, job.failed,
 * job.lease_lost or job.abandoned), logged after the scratch dir is gone and
 * every child process has exited, so whoever waits on it sees a clean host.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { type Fail, type ProcessingResult, processingResultSchema } from "../../worker/contracts/agent-protocol";
import { inputNameProblems, JOB_TYPES, type OutputSpec } from "../../worker/contracts/job-types";
import type { AgentClient, ClaimedJob } from "./client";
import type { Fault } from "./config";
import { downloadInput } from "./download";
import { ApiError, errorMessage, FatalError, isLeaseLost, JobError, LeaseLostError, ShutdownError } from "./errors";
import { classifyFailure } from "./failure";
import type { Handler, HandlerResult, InputFile, OutputFile } from "./handlers/types";
import { HeartbeatLoop } from "./heartbeat";
import type { Fields, Level, Logger } from "./log";
import { ProgressTracker } from "./progress";
import { type Backoff, retrying, sleep } from "./retry";
import { uploadOutput } from "./upload";

/** Overall progress: downloading fills 0–0.3, the handler 0.3–0.9, submitting is 0.95. */
const DOWNLOAD_END = 0.3;
const HANDLER_END = 0.9;
const SUBMITTING = 0.95;
/** After an abort, how long a handler gets to kill its children and return before we move on without it. */
const HANDLER_EXIT_GRACE_MS = 5000;
/** When the bridge is stopping, how long reporting a job as failed may take. */
const FINAL_REPORT_MS = 5000;

export type JobEnd = "submitted" | "failed" | "lease_lost" | "abandoned";

interface Outcome {
  end: JobEnd;
  event: string;
  level: Level;
  fields: Fields;
}

export interface JobRunDeps {
  client: AgentClient;
  handler: Handler;
  log: Logger;
  scratchRoot: string;
  fault: Fault | null;
  heartbeatIntervalMs: number;
  backoff: Backoff;
  /** A 401 mid-job: the whole bridge must stop. */
  onFatal: (error: FatalError) => void;
}

export class JobRun {
  readonly done: Promise<JobEnd>;
  /** Aborted by the runner: ShutdownError (stop waiting for this job) or FatalError. */
  private readonly stopper = new AbortController();
  private readonly startedAt = Date.now();

  constructor(
    private readonly claimed: ClaimedJob,
    private readonly deps: JobRunDeps,
  ) {
    this.done = this.execute();
  }

  get jobId(): string {
    return this.claimed.job.job_id;
  }

  /** Stop this job now; it is failed as retryable (shutdown) or abandoned (fatal). */
  abort(reason: ShutdownError | FatalError): void {
    this.stopper.abort(reason);
  }

  private async execute(): Promise<JobEnd> {
    const { lease } = this.claimed;
    const leaseLost = new AbortController();
    const signal = AbortSignal.any([this.stopper.signal, leaseLost.signal]);
    // Each reported step also nudges the heartbeat, so the Worker hears of a new stage when it starts.
    const tracker = new ProgressTracker((state) => {
      this.event("job.progress", { ...state });
      heartbeat.nudge();
    });
    const heartbeat: HeartbeatLoop = new HeartbeatLoop({
      client: this.deps.client,
      jobId: this.jobId,
      lease,
      intervalMs: this.deps.heartbeatIntervalMs,
      progress: () => tracker.current,
      log: (event, fields, level) => this.event(event, fields, level),
      onLost: (error) => leaseLost.abort(error),
      onFatal: (error) => this.deps.onFatal(error),
    });
    let scratch: string | undefined;
    let outcome: Outcome;
    try {
      await mkdir(this.deps.scratchRoot, { recursive: true });
      scratch = await mkdtemp(path.join(this.deps.scratchRoot, `job-${this.jobId.slice(0, 8)}-`));
      const result = await this.work(scratch, tracker, signal);
      // No heartbeats while submitting: submit retries must stay bounded by the lease, not extend it forever.
      await heartbeat.stop();
      tracker.update({ stage: "submitting", progress: SUBMITTING, message: "" });
      outcome = await this.submit(result, heartbeat.leaseDeadline);
    } catch (error) {
      await heartbeat.stop();
      outcome = await this.settle(signal.aborted ? signal.reason : error, heartbeat.leaseDeadline);
    } finally {
      await heartbeat.stop();
      if (scratch) await rm(scratch, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    }
    this.event(outcome.event, { ...outcome.fields, ms: Date.now() - this.startedAt }, outcome.level);
    return outcome.end;
  }

  /** Download, (fault hold), handler, validation, (fault hold): the result to submit. */
  private async work(scratch: string, tracker: ProgressTracker, signal: AbortSignal): Promise<ProcessingResult> {
    const { job } = this.claimed;
    const inputs = await this.download(scratch, tracker, signal);
    if (this.deps.fault?.point === "hold-before-run") await this.hold(tracker, signal);
    tracker.update({ stage: "running", progress: DOWNLOAD_END });
    const running = this.deps.handler.run({
      job,
      inputs,
      scratchDir: scratch,
      signal,
      progress: ({ fraction, stage, message }) => {
        const share = Math.min(1, Math.max(0, fraction));
        const progress = DOWNLOAD_END + (HANDLER_END - DOWNLOAD_END) * share;
        tracker.update({ progress, stage, ...(message === undefined ? {} : { message }) });
      },
    });
    const raw = await untilAborted(running, signal);
    // Checked before uploading: a result the Worker would refuse is not worth sending bytes for.
    const result = validateResult(job.job_type, raw);
    result.derived_manifest = await this.upload(raw.outputs ?? [], tracker, signal);
    if (this.deps.fault?.point === "hold-before-submit") await this.hold(tracker, signal);
    return result;
  }

  /** Each output through the chunked upload API, in order; the manifest lists what the Worker stored. */
  private async upload(
    outputs: readonly OutputFile[],
    tracker: ProgressTracker,
    signal: AbortSignal,
  ): Promise<ProcessingResult["derived_manifest"]> {
    const { job, lease } = this.claimed;
    const manifest: ProcessingResult["derived_manifest"] = [];
    for (const [index, output] of outputs.entries()) {
      tracker.update({
        stage: "uploading",
        progress: HANDLER_END,
        message: `${output.kind} (${index + 1}/${outputs.length})`,
      });
      const artifact = await uploadOutput(output, {
        client: this.deps.client,
        jobId: job.job_id,
        lockToken: lease.lockToken,
        signal,
        backoff: this.deps.backoff,
        onBytes: (sent, total) => {
          const share = (index + sent / total) / outputs.length;
          tracker.update({
            progress: HANDLER_END + (SUBMITTING - HANDLER_END) * share,
            message: `${output.kind} ${megabytes(sent)} MB`,
          });
        },
      });
      manifest.push({
        kind: output.kind,
        ref: artifact.artifact_id,
        size_bytes: artifact.size_bytes,
        sha256: artifact.sha256,
      });
    }
    return manifest;
  }

  private async download(
    scratch: string,
    tracker: ProgressTracker,
    signal: AbortSignal,
  ): Promise<Map<string, InputFile>> {
    const { job, lease } = this.claimed;
    const inputs = new Map<string, InputFile>();
    const total = job.inputs.reduce((sum, input) => sum + input.size_bytes, 0);
    let done = 0;
    tracker.update({ stage: "downloading", message: `${job.inputs.length} input(s)` });
    for (const input of job.inputs) {
      const file = await downloadInput(input, {
        client: this.deps.client,
        lockToken: lease.lockToken,
        dir: scratch,
        signal,
        backoff: this.deps.backoff,
        onBytes: (received) => {
          const fraction = total > 0 ? Math.min(1, (done + received) / total) : 0;
          tracker.update({ progress: DOWNLOAD_END * fraction, message: `${megabytes(done + received)} MB` });
        },
      });
      done += input.size_bytes;
      inputs.set(input.name, { input, path: file });
    }
    const problems = inputNameProblems(job.job_type, [...inputs.keys()], job.params);
    if (problems.length > 0) throw new JobError("input_missing", `${job.job_type}: ${problems.join(", ")}`, false);
    return inputs;
  }

  /** GPU_BRIDGE_FAULT: park the job (heartbeats go on) so a test can act while it is held. */
  private async hold(tracker: ProgressTracker, signal: AbortSignal): Promise<void> {
    const fault = this.deps.fault;
    if (!fault) return;
    this.event("job.hold", { point: fault.point, hold_ms: fault.ms }, "warn");
    tracker.update({ stage: "hold", message: `fault injection: ${fault.point} for ${fault.ms} ms` });
    if (!(await sleep(fault.ms, signal))) throw signal.reason;
  }

  private async submit(result: ProcessingResult, deadline: number): Promise<Outcome> {
    const { job, lease } = this.claimed;
    try {
      const outcome = await retrying(
        () => this.deps.client.submit(job.job_id, { lock_token: lease.lockToken, result }, this.stopper.signal),
        {
          backoff: this.deps.backoff,
          deadline,
          signal: this.stopper.signal,
          onRetry: (error, attempt, delayMs) =>
            this.event(
              "job.submit_retry",
              { error: errorMessage(error), attempt: attempt + 1, retry_in_ms: delayMs },
              "warn",
            ),
        },
      );
      const fields = { status: outcome.status, attempt: outcome.attempt, warnings: result.warnings.length };
      return { end: "submitted", event: "job.submitted", level: "info", fields };
    } catch (error) {
      if (this.stopper.signal.aborted) return this.settle(this.stopper.signal.reason, deadline);
      if (error instanceof FatalError || isLeaseLost(error)) return this.settle(error, deadline);
      if (error instanceof ApiError && error.status === 422) {
        const body = { error_code: "result_rejected", message: error.message.slice(0, 2000), retryable: false };
        return this.fail(body, deadline);
      }
      // The lease lapsed before the Worker took the result: the job will be retried elsewhere.
      const reason = `submit did not get through before the lease ended: ${errorMessage(error)}`;
      return { end: "abandoned", event: "job.abandoned", level: "error", fields: { reason } };
    }
  }

  /** Turns whatever stopped the job into its outcome, telling the Worker when that is still ours to do. */
  private async settle(reason: unknown, deadline: number): Promise<Outcome> {
    if (reason instanceof LeaseLostError || isLeaseLost(reason)) {
      return { end: "lease_lost", event: "job.lease_lost", level: "warn", fields: { reason: errorMessage(reason) } };
    }
    if (reason instanceof FatalError) {
      this.deps.onFatal(reason);
      return { end: "abandoned", event: "job.abandoned", level: "error", fields: { reason: reason.message } };
    }
    if (reason instanceof ShutdownError) {
      const body = { error_code: "bridge_shutdown", message: reason.message, retryable: true };
      return this.fail(body, Math.min(deadline, Date.now() + FINAL_REPORT_MS));
    }
    const failure = classifyFailure(reason);
    return this.fail({ error_code: failure.code, message: failure.message, retryable: failure.retryable }, deadline);
  }

  private async fail(body: Omit<Fail, "lock_token">, deadline: number): Promise<Outcome> {
    const { job, lease } = this.claimed;
    const fields = { error_code: body.error_code, retryable: body.retryable, message: body.message };
    try {
      const outcome = await retrying(
        () => this.deps.client.fail(job.job_id, { ...body, lock_token: lease.lockToken }),
        { backoff: this.deps.backoff, deadline },
      );
      const level = body.retryable ? "warn" : "error";
      return {
        end: "failed",
        event: "job.failed",
        level,
        fields: { ...fields, status: outcome.status, reported: true },
      };
    } catch (error) {
      if (isLeaseLost(error)) return this.settle(error, deadline);
      if (error instanceof FatalError) this.deps.onFatal(error);
      // Unreported, the job's lease lapses and the board retries it: the same as a retryable failure.
      const unreported = { ...fields, reported: false, report_error: errorMessage(error) };
      return { end: "failed", event: "job.failed", level: "error", fields: unreported };
    }
  }

  private event(event: string, fields: Fields, level: Level = "info"): void {
    this.deps.log.event(event, { job_id: this.jobId, task_id: this.claimed.job.task_id, ...fields }, level);
  }
}

/** The handler's result as the protocol and the job type's facts and outputs require it. */
function validateResult(jobType: keyof typeof JOB_TYPES, raw: HandlerResult): ProcessingResult {
  const { outputs = [], ...rest } = raw;
  const parsed = processingResultSchema.safeParse(rest);
  if (!parsed.success) throw new JobError("invalid_result", `handler result rejected: ${parsed.error.message}`, false);
  const factsSchema = JOB_TYPES[jobType].facts;
  const facts = factsSchema?.safeParse(parsed.data.facts);
  if (facts && !facts.success) throw new JobError("invalid_result", `facts rejected: ${facts.error.message}`, false);
  const declared: readonly OutputSpec[] = JOB_TYPES[jobType].outputs;
  const kinds = outputs.map((output) => output.kind).sort();
  const wanted = declared.map((output) => output.kind).sort();
  const wrongType = outputs.find(
    (output) => !declared.find((spec) => spec.kind === output.kind)?.contentTypes.includes(output.contentType),
  );
  if (kinds.join() !== wanted.join() || wrongType) {
    const got = outputs.map((output) => `${output.kind} (${output.contentType})`).join(", ") || "none";
    throw new JobError("invalid_result", `${jobType} must output ${wanted.join(", ") || "nothing"}; got ${got}`, false);
  }
  return parsed.data;
}

/**
 * Settles with `work`, or rejects HANDLER_EXIT_GRACE_MS after `signal` aborts
 * if the handler ignores it. A handler that honours the signal settles first,
 * after its child processes have exited.
 */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(signal.reason), HANDLER_EXIT_GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, gaveUp]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
    work.catch(() => undefined);
  }
}

function megabytes(bytes: number): string {
  return (bytes / 1_000_000).toFixed(1);
}
