/**
 * Composition's progress: each stage gets a share of the bar proportional to
 * the work it is expected to do (encoding a second costs far more than
 * copying one), so the bar moves at a roughly even pace whatever the mix.
 */
import type { ProgressUpdate } from "../handlers/types";

export interface StageCost {
  stage: string;
  /** Relative cost, in any unit shared by all stages (zero-cost stages still report). */
  cost: number;
}

export class StagedProgress {
  private readonly starts = new Map<string, { from: number; share: number }>();
  private last = 0;

  /** `from`..1 of the handler's bar is split among `stages`. */
  constructor(
    private readonly report: (update: ProgressUpdate) => void,
    stages: readonly StageCost[],
    from: number,
  ) {
    const total = stages.reduce((sum, s) => sum + Math.max(0, s.cost), 0) || 1;
    let at = from;
    for (const { stage, cost } of stages) {
      const share = ((1 - from) * Math.max(0, cost)) / total;
      this.starts.set(stage, { from: at, share });
      at += share;
    }
  }

  /** Reports `fraction` (0..1) of `stage` done; progress never moves back. */
  update(stage: string, fraction: number, message?: string): void {
    const slot = this.starts.get(stage);
    if (!slot) throw new Error(`unplanned stage ${stage}`);
    this.last = Math.max(this.last, slot.from + slot.share * Math.min(1, Math.max(0, fraction)));
    this.report({ fraction: this.last, stage, ...(message === undefined ? {} : { message }) });
  }

  /** A progress callback for one step that is `index`/`count` of its stage. */
  step(stage: string, index: number, count: number, message: string): (fraction: number) => void {
    this.update(stage, index / count, message);
    return (fraction) => this.update(stage, (index + fraction) / count, message);
  }
}
