/**
 * Keeps one lease alive: a heartbeat every heartbeat_interval_seconds carrying
 * the job's latest {progress, stage, message}. A 423/409 answer means the
 * lease is gone; so does reaching the lease's deadline without one heartbeat
 * getting through (the Worker was unreachable too long and the board will
 * have handed the job to someone else). Either way the job is told to stop.
 */
import type { AgentClient, Lease } from "./client";
import { errorMessage, FatalError, isLeaseLost, LeaseLostError } from "./errors";
import type { Fields, Level } from "./log";
import type { ProgressState } from "./progress";

/** After a failed heartbeat, try again sooner than the regular interval. */
const RETRY_MS = 2000;
/**
 * A nudge (a new stage, a progress step) sends a heartbeat early, but never
 * sooner than this after the previous one: watchers see each stage as it
 * starts, and a chatty handler cannot flood the Worker.
 */
const NUDGE_GAP_MS = 1000;

export interface HeartbeatOptions {
  client: AgentClient;
  jobId: string;
  lease: Lease;
  intervalMs: number;
  progress: () => ProgressState;
  log: (event: string, fields: Fields, level: Level) => void;
  onLost: (error: LeaseLostError) => void;
  onFatal: (error: FatalError) => void;
}

export class HeartbeatLoop {
  private deadline: number;
  private readonly stopper = new AbortController();
  private readonly loop: Promise<void>;
  private nudged = false;
  private lastSent = 0;
  private wake: (() => void) | undefined;

  constructor(private readonly options: HeartbeatOptions) {
    this.deadline = options.lease.deadline;
    this.loop = this.run();
  }

  /** Local epoch ms by which the lease has surely ended, extended by every heartbeat that got through. */
  get leaseDeadline(): number {
    return this.deadline;
  }

  /** Progress changed: report it soon (at most one heartbeat per NUDGE_GAP_MS). */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** Stops heartbeating and waits for a heartbeat in flight, so none is sent after submit or fail. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { client, jobId, lease, intervalMs } = this.options;
    const stopped = this.stopper.signal;
    let failing = false;
    for (;;) {
      const room = this.deadline - Date.now();
      // Never wait more than half the lease's remaining time: a too-long interval must not let it lapse.
      const ceiling = Math.max(room / 2, Math.min(room, 250));
      const regular = Math.min(failing ? Math.min(intervalMs, RETRY_MS) : intervalMs, ceiling);
      const wait = this.nudged ? Math.min(regular, this.lastSent + NUDGE_GAP_MS - Date.now()) : regular;
      await this.pause(Math.max(0, wait));
      if (stopped.aborted) return;
      if (this.nudged && Date.now() - this.lastSent < NUDGE_GAP_MS && Date.now() - this.lastSent < regular) continue;
      this.nudged = false;
      this.lastSent = Date.now();
      const state = this.options.progress();
      try {
        const ack = await client.heartbeat(
          jobId,
          { lock_token: lease.lockToken, progress: state.progress, stage: state.stage, message: state.message },
          stopped,
        );
        this.deadline = ack.deadline;
        failing = false;
      } catch (error) {
        if (stopped.aborted) return;
        if (error instanceof FatalError) return this.options.onFatal(error);
        if (isLeaseLost(error)) return this.options.onLost(new LeaseLostError(error.message));
        failing = true;
        const leftMs = this.deadline - Date.now();
        this.options.log("job.heartbeat_error", { error: errorMessage(error), lease_left_ms: leftMs }, "warn");
        if (leftMs <= 0) {
          return this.options.onLost(new LeaseLostError("lease expired: no heartbeat got through before locked_until"));
        }
      }
    }
  }

  /** Sleeps up to `ms`; a nudge or stop ends it early. */
  private pause(ms: number): Promise<void> {
    const stopped = this.stopper.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stopped.removeEventListener("abort", done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopped.addEventListener("abort", done, { once: true });
      this.wake = done;
    });
  }
}
