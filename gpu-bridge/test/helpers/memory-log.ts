/** A Logger that keeps events in memory and lets a test await one (with a timeout that lists what it saw). */
import { type Fields, type Level, type Logger, type LogRecord, record } from "../../src/log";

interface Waiter {
  event: string;
  match: (entry: LogRecord) => boolean;
  resolve: (entry: LogRecord) => void;
}

export class MemoryLog implements Logger {
  readonly records: LogRecord[] = [];
  private waiters: Waiter[] = [];

  event(event: string, fields: Fields = {}, level: Level = "info"): void {
    const entry = record(event, fields, level);
    this.records.push(entry);
    for (const waiter of this.waiters.filter((w) => w.event === event && w.match(entry))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(entry);
    }
  }

  all(event: string): LogRecord[] {
    return this.records.filter((entry) => entry.event === event);
  }

  /** The first `event` (already logged or still to come) that matches. */
  waitFor(event: string, match: (entry: LogRecord) => boolean = () => true, timeoutMs = 30_000): Promise<LogRecord> {
    const seen = this.records.find((entry) => entry.event === event && match(entry));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const names = this.records.map((entry) => entry.event).join(", ");
        reject(new Error(`no ${event} within ${timeoutMs} ms; saw: ${names}`));
      }, timeoutMs);
      this.waiters.push({
        event,
        match,
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry);
        },
      });
    });
  }
}
