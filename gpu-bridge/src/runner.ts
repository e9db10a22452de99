/**
 * The bridge's main loop: detect handlers, register, then long-poll for jobs
 * and claim as many as there are free slots, each run by a JobRun. stop()
 * drains (no more claims, running jobs get the grace period, the rest are
 * failed as retryable); a second stop() fails them all at once. A 401 anywhere
 * stops the bridge with exit code 1: no retry can fix a bad token.
 */
import os from "node:os";
import { type Job, MAX_WAIT_SECONDS, type ServerPolicy } from "../../worker/contracts/agent-protocol";
import type { JobType } from "../../worker/contracts/job-types";
import type { AgentClient, RegisteredAgent } from "./client";
import type { Config } from "./config";
import { ApiError, errorMessage, FatalError, isLeaseLost, ShutdownError } from "./errors";
import { detectHandlers, runnable } from "./handlers/index";
import type { Handler } from "./handlers/types";
import { JobRun } from "./job-run";
import type { Logger } from "./log";
import { type Backoff, DEFAULT_BACKOFF, retryDelay, retrying, sleep } from "./retry";
import { prepareScratch, removeScratch } from "./scratch";
import { BRIDGE_VERSION } from "./version";

/** After a poll that claimed nothing, wait at least this long before the next (guards against a hot loop). */
const IDLE_POLL_FLOOR_MS = 1000;

export interface RunnerOptions {
  config: Config;
  client: AgentClient;
  handlers: readonly Handler[];
  log: Logger;
  backoff?: Backoff;
}

type State = "starting" | "running" | "draining" | "stopped";

export class Runner {
  private state: State = "starting";
  private exitCode = 0;
  private fatal: FatalError | undefined;
  private graceEndsAt = Number.POSITIVE_INFINITY;
  private readonly jobs = new Map<string, JobRun>();
  /** Aborts registration, the long-poll and idle waits when stopping. */
  private readonly pollStopper = new AbortController();
  /** Aborts the drain's grace wait (second signal, fatal error). */
  private readonly forceStopper = new AbortController();
  private jobEnded: () => void = () => undefined;

  constructor(private readonly options: RunnerOptions) {}

  private get backoff(): Backoff {
    return this.options.backoff ?? DEFAULT_BACKOFF;
  }

  /** Runs until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    const { config, log } = this.options;
    let scratch: Awaited<ReturnType<typeof prepareScratch>>;
    try {
      scratch = await prepareScratch(config.scratchDir);
    } catch (error) {
      log.event("bridge.fatal", { error: `scratch dir ${config.scratchDir}: ${errorMessage(error)}` }, "error");
      log.event("bridge.stopped", { exit_code: 1 });
      return 1;
    }
    if (scratch.swept.length > 0) log.event("bridge.scratch_swept", { dirs: scratch.swept });
    try {
      const detected = await detectHandlers(this.options.handlers);
      const { byJobType, capabilities } = runnable(detected);
      const unavailable = detected.filter((d) => !d.detection.available);
      for (const { handler, detection } of unavailable) {
        log.event("bridge.handler_unavailable", { capability: handler.capability, detail: detection.detail }, "warn");
      }
      if (capabilities.length === 0)
        log.event("bridge.no_capabilities", { detail: "no handler can run here" }, "error");
      const registered = await this.register(capabilities);
      if (registered && this.state === "starting") {
        this.state = "running";
        await this.pollLoop(registered.server_policy, capabilities, byJobType, scratch.dir);
      }
    } catch (error) {
      if (error instanceof FatalError) this.onFatal(error);
      else {
        log.event("bridge.crashed", { error: errorMessage(error) }, "error");
        this.exitCode = 1;
        this.stopNow(new ShutdownError("the bridge crashed"));
      }
    }
    await this.drain();
    await removeScratch(scratch.dir);
    this.state = "stopped";
    log.event("bridge.stopped", { exit_code: this.exitCode });
    return this.exitCode;
  }

  /** First call: drain. Later calls: fail every running job as retryable now. */
  stop(): void {
    if (this.state === "stopped") return;
    if (this.state === "starting" || this.state === "running") {
      this.state = "draining";
      this.graceEndsAt = Date.now() + this.options.config.shutdownGraceMs;
      this.options.log.event("bridge.draining", {
        running: this.jobs.size,
        grace_s: this.options.config.shutdownGraceMs / 1000,
      });
      this.pollStopper.abort();
      return;
    }
    this.options.log.event("bridge.force_stop", { running: this.jobs.size }, "warn");
    this.stopNow(new ShutdownError("the bridge was stopped before the job finished"));
  }

  private onFatal(error: FatalError): void {
    if (this.fatal) return;
    this.fatal = error;
    this.exitCode = 1;
    this.options.log.event("bridge.fatal", { error: error.message }, "error");
    this.state = this.state === "stopped" ? "stopped" : "draining";
    this.stopNow(error);
  }

  private stopNow(reason: ShutdownError | FatalError): void {
    this.pollStopper.abort();
    this.forceStopper.abort();
    for (const job of this.jobs.values()) job.abort(reason);
  }

  private async register(capabilities: string[]): Promise<RegisteredAgent | undefined> {
    const { client, config, log } = this.options;
    const signal = this.pollStopper.signal;
    const body = {
      agent_name: config.name,
      agent_version: BRIDGE_VERSION,
      platform: `${os.type()} ${os.release()} ${os.arch()}; node ${process.version}`.slice(0, 128),
      capabilities,
      max_parallel_jobs: config.maxJobs,
    };
    let registered: RegisteredAgent;
    try {
      registered = await retrying(() => client.register(body, signal), {
        backoff: this.backoff,
        signal,
        onRetry: (error, attempt, delayMs) =>
          log.event(
            "bridge.register_error",
            { error: errorMessage(error), attempt: attempt + 1, retry_in_ms: delayMs },
            "warn",
          ),
      });
    } catch (error) {
      if (signal.aborted) return undefined;
      if (error instanceof FatalError) throw error;
      throw new FatalError(`registration with ${client.baseUrl} refused: ${errorMessage(error)}`);
    }
    client.agentId = registered.agent_id;
    const policy = registered.server_policy;
    log.event("bridge.registered", {
      agent_id: registered.agent_id,
      name: config.name,
      url: client.baseUrl,
      capabilities,
      slots: this.slotsFor(policy),
      wait_s: this.waitFor(policy),
      lease_seconds: policy.lease_seconds,
      heartbeat_interval_seconds: policy.heartbeat_interval_seconds,
      allowed_job_types: policy.allowed_job_types,
    });
    return registered;
  }

  private slotsFor(policy: ServerPolicy): number {
    return Math.max(1, Math.min(this.options.config.maxJobs, policy.max_parallel_jobs_allowed));
  }

  private waitFor(policy: ServerPolicy): number {
    return Math.min(this.options.config.waitSeconds, policy.max_wait_seconds, MAX_WAIT_SECONDS);
  }

  private async pollLoop(
    registeredPolicy: ServerPolicy,
    capabilities: string[],
    handlers: Map<JobType, Handler>,
    scratchDir: string,
  ): Promise<void> {
    const { client, log } = this.options;
    const signal = this.pollStopper.signal;
    let policy = registeredPolicy;
    let nextPollAt = 0;
    let failures = 0;
    while (this.state === "running") {
      const slots = this.slotsFor(policy);
      const minGapMs = policy.min_poll_interval_seconds * 1000;
      const free = slots - this.jobs.size;
      if (free <= 0) {
        await this.untilJobEnds(signal);
        continue;
      }
      if (!(await sleep(Math.max(0, nextPollAt - Date.now()), signal))) break;
      const polledAt = Date.now();
      let listed: { jobs: Job[]; rejected: string[] };
      try {
        listed = await client.listJobs({ wait: this.waitFor(policy), limit: free }, signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof FatalError) throw error;
        if (error instanceof ApiError && error.status === 403) throw new FatalError(error.message);
        if (error instanceof ApiError && error.status === 409) {
          // The Worker no longer knows our registration (its state was reset): register again, keep held leases.
          log.event("bridge.reregistering", { error: error.message }, "warn");
          const again = await this.register(capabilities);
          if (!again) break;
          policy = again.server_policy;
          continue;
        }
        const delay = retryDelay(error, failures++, this.backoff);
        const status = error instanceof ApiError ? error.status : undefined;
        log.event("bridge.poll_error", { error: errorMessage(error), status, retry_in_ms: delay }, "warn");
        nextPollAt = Date.now() + delay;
        continue;
      }
      for (const issue of listed.rejected) log.event("bridge.job_unreadable", { issue }, "warn");
      let claimed = 0;
      for (const job of listed.jobs) {
        if (this.state !== "running" || this.jobs.size >= slots) break;
        if (await this.tryClaim(job, handlers, policy, scratchDir)) claimed++;
      }
      // The minimum poll interval binds polls that do not wait. A long-poll cannot spin (the server
      // holds it while there is nothing), so after a claim the next one starts at once: a bridge
      // with free slots takes queued work without a pause.
      const gapMs = this.waitFor(policy) > 0 ? 0 : minGapMs;
      nextPollAt = polledAt + (claimed > 0 ? gapMs : Math.max(gapMs, IDLE_POLL_FLOOR_MS));
    }
  }

  private async tryClaim(
    listed: Job,
    handlers: Map<JobType, Handler>,
    policy: ServerPolicy,
    scratchDir: string,
  ): Promise<boolean> {
    const { client, config, log } = this.options;
    const handler = handlers.get(listed.job_type);
    if (!handler) {
      log.event("job.skipped", { job_id: listed.job_id, job_type: listed.job_type, reason: "no handler" }, "debug");
      return false;
    }
    let claimed: Awaited<ReturnType<AgentClient["claim"]>>;
    try {
      // Not aborted by stop(): a claim the Worker granted must come back to us, or its lease would be orphaned.
      claimed = await client.claim(listed.job_id);
    } catch (error) {
      if (error instanceof FatalError) throw error;
      if (error instanceof ApiError && error.status === 403) throw new FatalError(error.message);
      const conflict = isLeaseLost(error) || (error instanceof ApiError && error.status === 404);
      log.event(
        conflict ? "job.claim_conflict" : "job.claim_error",
        { job_id: listed.job_id, error: errorMessage(error) },
        conflict ? "debug" : "warn",
      );
      return false;
    }
    const { job, lease } = claimed;
    log.event("job.claimed", {
      job_id: job.job_id,
      task_id: job.task_id,
      job_type: job.job_type,
      attempt: job.attempt,
      max_attempts: job.max_attempts,
      locked_until: lease.lockedUntil,
    });
    const run = new JobRun(claimed, {
      client,
      handler,
      log,
      scratchRoot: scratchDir,
      fault: config.fault,
      heartbeatIntervalMs: policy.heartbeat_interval_seconds * 1000,
      backoff: this.backoff,
      onFatal: (error) => this.onFatal(error),
    });
    this.jobs.set(job.job_id, run);
    void run.done
      .catch((error: unknown) => log.event("job.crashed", { job_id: job.job_id, error: errorMessage(error) }, "error"))
      .finally(() => {
        this.jobs.delete(job.job_id);
        this.jobEnded();
      });
    return true;
  }

  /** Resolves when a running job ends or the loop is stopped. */
  private untilJobEnds(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        this.jobEnded = () => undefined;
        resolve();
      };
      this.jobEnded = done;
      signal.addEventListener("abort", done, { once: true });
      if (signal.aborted) done();
    });
  }

  /** Lets running jobs finish until the grace period ends, then fails the rest as retryable. */
  private async drain(): Promise<void> {
    if (this.jobs.size === 0) return;
    const allDone = () => Promise.allSettled([...this.jobs.values()].map((job) => job.done));
    const graceLeft = Math.max(0, this.graceEndsAt - Date.now());
    // Cancels the grace timer when the jobs finish first, so no timer outlives the runner.
    const finishedEarly = new AbortController();
    const finished = await Promise.race([
      allDone().then(() => true),
      sleep(graceLeft, AbortSignal.any([this.forceStopper.signal, finishedEarly.signal])).then(() => false),
    ]);
    finishedEarly.abort();
    if (!finished && this.jobs.size > 0) {
      if (!this.forceStopper.signal.aborted) {
        this.options.log.event("bridge.grace_expired", { running: this.jobs.size }, "warn");
      }
      const reason = this.fatal ?? new ShutdownError("the bridge shut down before the job finished");
      for (const job of this.jobs.values()) job.abort(reason);
    }
    await allDone();
  }
}
