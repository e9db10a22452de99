/**
 * The human renderer. Events print as short lines; on a terminal, a block
 * under them shows one live line per running job (stage, bar, message),
 * redrawn in place. Slot state is derived from the events themselves, so the
 * runner has one way to report and the JSON and human views cannot disagree.
 */
import type { LogRecord } from "./log";

interface Output {
  write(chunk: string): unknown;
  columns?: number;
}

interface Slot {
  jobId: string;
  jobType: string;
  stage: string;
  progress: number;
  message: string;
  startedAt: number;
}

const ENDS_JOB = new Set(["job.submitted", "job.failed", "job.lease_lost", "job.abandoned"]);
const QUIET_FIELDS = new Set(["at", "level", "event"]);
const COLOURS: Record<string, string> = { warn: "\x1b[33m", error: "\x1b[31m", debug: "\x1b[2m" };
const RESET = "\x1b[0m";
/** At most ~10 redraws a second: progress can tick far faster than a terminal needs. */
const REDRAW_MS = 100;

export class PrettyRenderer {
  private readonly slots = new Map<string, Slot>();
  private drawnLines = 0;
  private redrawTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: Output,
    private readonly live: boolean,
  ) {}

  handle(entry: LogRecord): void {
    const stageBefore = this.track(entry);
    if (entry.event === "job.progress") {
      if (this.live) this.scheduleRedraw();
      // Without a live block, one line per stage change is the progress view.
      else if (stageBefore !== entry.stage) this.print(entry);
      return;
    }
    if (entry.level === "debug") return;
    this.print(entry);
  }

  /** Updates slot state; returns the job's stage before this event. */
  private track(entry: LogRecord): unknown {
    const jobId = typeof entry.job_id === "string" ? entry.job_id : undefined;
    if (!jobId) return undefined;
    const slot = this.slots.get(jobId);
    const before = slot?.stage;
    if (entry.event === "job.claimed") {
      this.slots.set(jobId, {
        jobId,
        jobType: String(entry.job_type ?? "?"),
        stage: "claimed",
        progress: 0,
        message: "",
        startedAt: Date.now(),
      });
    } else if (ENDS_JOB.has(entry.event)) {
      this.slots.delete(jobId);
    } else if (slot && entry.event === "job.hold") {
      slot.stage = "hold";
    } else if (slot && entry.event === "job.progress") {
      if (typeof entry.stage === "string") slot.stage = entry.stage;
      if (typeof entry.progress === "number") slot.progress = entry.progress;
      if (typeof entry.message === "string") slot.message = entry.message;
    }
    return before;
  }

  private print(entry: LogRecord): void {
    const time = entry.at.slice(11, 19);
    const fields = Object.entries(entry)
      .filter(([key, value]) => !QUIET_FIELDS.has(key) && value !== undefined && value !== null && value !== "")
      .map(([key, value]) => `${key}=${formatValue(key, value)}`)
      .join(" ");
    let line = `${time} ${entry.event.padEnd(18)} ${fields}`;
    const colour = COLOURS[entry.level];
    if (this.live && colour) line = `${colour}${line}${RESET}`;
    this.writeAboveBlock(`${line}\n`);
  }

  private writeAboveBlock(text: string): void {
    if (!this.live) {
      this.out.write(text);
      return;
    }
    this.out.write(this.eraseBlock() + text + this.renderBlock());
  }

  private scheduleRedraw(): void {
    this.redrawTimer ??= setTimeout(() => {
      this.redrawTimer = undefined;
      this.out.write(this.eraseBlock() + this.renderBlock());
    }, REDRAW_MS).unref();
  }

  private eraseBlock(): string {
    const lines = this.drawnLines;
    this.drawnLines = 0;
    return lines > 0 ? `\x1b[${lines}A\x1b[J` : "";
  }

  private renderBlock(): string {
    const width = Math.max(40, (this.out.columns ?? 100) - 1);
    const rows = [...this.slots.values()].map((slot, index) => truncate(slotLine(index + 1, slot), width));
    this.drawnLines = rows.length;
    return rows.map((row) => `${row}\n`).join("");
  }
}

function slotLine(index: number, slot: Slot): string {
  const filled = Math.round(slot.progress * 20);
  const bar = `${"█".repeat(filled)}${"░".repeat(20 - filled)}`;
  const pct = `${Math.round(slot.progress * 100)}%`.padStart(4);
  const elapsed = Math.round((Date.now() - slot.startedAt) / 1000);
  return `  [${index}] ${slot.jobId.slice(0, 8)} ${slot.jobType} ${bar} ${pct} ${slot.stage.padEnd(11)} ${elapsed}s ${slot.message}`;
}

function formatValue(key: string, value: unknown): string {
  if (key === "job_id" || key === "task_id" || key === "agent_id") return String(value).slice(0, 8);
  if (typeof value === "string") return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
