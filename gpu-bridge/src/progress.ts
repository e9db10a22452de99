/**
 * One job's progress: what the next heartbeat reports and what the log shows.
 * Progress never goes backwards (a retried download must not make a user's
 * bar jump back), and the log gets a job.progress event per stage change or
 * per 10% step, not per byte.
 */
export interface ProgressState {
  /** Fraction of the whole job, 0..1. */
  progress: number;
  stage: string;
  message: string;
}

const LOG_STEP = 0.1;

export class ProgressTracker {
  private state: ProgressState = { progress: 0, stage: "claimed", message: "" };
  private lastLogged: ProgressState | undefined;

  constructor(private readonly onReport: (state: ProgressState) => void) {}

  get current(): ProgressState {
    return { ...this.state };
  }

  update(update: Partial<ProgressState>): void {
    const stage = update.stage?.trim().slice(0, 64) || this.state.stage;
    // A new stage starts with a blank message rather than the previous stage's.
    const message = update.message ?? (stage === this.state.stage ? this.state.message : "");
    const progress = Math.min(1, Math.max(this.state.progress, update.progress ?? 0));
    this.state = { progress: Math.round(progress * 1000) / 1000, stage, message: message.slice(0, 500) };
    const last = this.lastLogged;
    if (!last || last.stage !== this.state.stage || this.state.progress - last.progress >= LOG_STEP) {
      this.lastLogged = this.current;
      this.onReport(this.current);
    }
  }
}
