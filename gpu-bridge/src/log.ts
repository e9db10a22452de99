/**
 * Structured events. Every line is one JSON object {at, level, event, ...}:
 * operators grep them and the end-to-end tests wait on them, so names are
 * stable (see README.md). On a terminal the same events feed a human renderer
 * with one live progress line per running job.
 */
import { PrettyRenderer } from "./log-pretty";

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

export interface LogRecord extends Fields {
  at: string;
  level: Level;
  event: string;
}

export interface Logger {
  event(event: string, fields?: Fields, level?: Level): void;
}

export type LogMode = "auto" | "pretty" | "json";

interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function record(event: string, fields: Fields, level: Level): LogRecord {
  return { at: new Date().toISOString(), level, event, ...fields };
}

/** One JSON line per event. Writes to a pipe are synchronous on Linux, so a line is out before the next statement. */
export class JsonLogger implements Logger {
  constructor(private readonly out: Output = process.stdout) {}

  event(event: string, fields: Fields = {}, level: Level = "info"): void {
    this.out.write(`${JSON.stringify(record(event, fields, level), jsonSafe)}\n`);
  }
}

export class PrettyLogger implements Logger {
  private readonly renderer: PrettyRenderer;

  constructor(out: Output = process.stdout) {
    this.renderer = new PrettyRenderer(out, out.isTTY === true);
  }

  event(event: string, fields: Fields = {}, level: Level = "info"): void {
    this.renderer.handle(record(event, fields, level));
  }
}

/** auto: the live renderer on a terminal, JSON lines for pipes and files (log shippers, tests). */
export function createLogger(mode: LogMode, out: Output = process.stdout): Logger {
  const pretty = mode === "pretty" || (mode === "auto" && out.isTTY === true);
  return pretty ? new PrettyLogger(out) : new JsonLogger(out);
}

/** Errors serialise as {name, message} instead of `{}`. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** Waits until everything written to stdout has been handed to the OS, so exiting loses no line. */
export function flushStdout(): Promise<void> {
  return new Promise((resolve) => process.stdout.write("", () => resolve()));
}
