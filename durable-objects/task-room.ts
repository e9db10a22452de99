/**
 * TaskRoom: one per task. It owns the task's live state: each job's status and
 * progress, an ordered log of events with sequence numbers, and the WebSockets
 * watching them (hibernation API, so idle watchers cost nothing). Everything is
 * in SQLite storage, so the room is correct after eviction, and a client that
 * reconnects resumes from the last sequence number it saw.
 *
 * The task row in D1 is written only at transitions (status or stage change),
 * never on every progress tick.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq, notInArray } from "drizzle-orm";
import type { JobStatus } from "../worker/contracts/agent-protocol";
import type { JobError, JobEvent, Progress } from "../worker/core/jobs/types";
import { database } from "../worker/db/client";
import { jobs, type TaskStatus, tasks } from "../worker/db/schema";

export interface TaskEvent {
  seq: number;
  at: string;
  task_id: string;
  kind: "status" | "progress";
  /** The task's status and overall progress (0..1) after this event. */
  status: TaskStatus;
  progress: number;
  stage: string | null;
  message: string | null;
  job_id: string | null;
  job_status: JobStatus | null;
  error: JobError | null;
}

export interface TaskState {
  task_id: string;
  status: TaskStatus;
  progress: number;
  stage: string | null;
  error: JobError | null;
  last_seq: number;
}

interface JobState {
  id: string;
  status: JobStatus;
  progress: number;
  stage: string | null;
  message: string | null;
  error: string | null;
  updated_at: number;
  [key: string]: SqlStorageValue;
}

const BACKLOG_LIMIT = 1000;
const FINISHED_JOB: readonly JobStatus[] = ["completed", "failed"];

export class TaskRoom extends DurableObject<Env> {
  private readonly waiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, progress REAL NOT NULL,
        stage TEXT, message TEXT, error TEXT, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    // Keep-alives are answered without waking the object.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** At dispatch: the task's jobs, and its first event. Idempotent. */
  open(taskId: string, jobIds: readonly string[]): TaskState {
    if (!this.meta("task_id")) {
      this.ctx.storage.transactionSync(() => {
        for (const id of jobIds) {
          this.sql(
            `INSERT OR IGNORE INTO jobs (id, status, progress, updated_at) VALUES (?, 'pending', 0, ?)`,
            id,
            Date.now(),
          );
        }
        this.setMeta("task_id", taskId);
        this.setMeta("projected", "pending|queued");
      });
      this.broadcast([this.append(taskId, "status", null, null, "Queued", null)]);
    }
    return this.state(taskId);
  }

  /** Job transitions from the board's outbox; a replayed or late event for a finished job is ignored. */
  async applyJobEvents(taskId: string, events: readonly JobEvent[]): Promise<TaskState> {
    await this.load(taskId);
    const appended: TaskEvent[] = [];
    for (const event of events) {
      const job = this.job(event.jobId);
      if (job && FINISHED_JOB.includes(job.status)) continue;
      const next = transition(event);
      this.sql(
        `INSERT INTO jobs (id, status, progress, stage, message, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, progress = excluded.progress,
           stage = excluded.stage, message = excluded.message, error = excluded.error, updated_at = excluded.updated_at`,
        event.jobId,
        next.status,
        next.progress,
        next.stage,
        next.message,
        next.error ? JSON.stringify(next.error) : null,
        event.at,
      );
      appended.push(this.append(taskId, "status", event.jobId, next.status, next.message, next.error));
    }
    await this.project(taskId);
    this.broadcast(appended);
    return this.state(taskId);
  }

  /**
   * A heartbeat's progress for a job its holder still runs. The board checked
   * the lease before forwarding it. Claims reach the room this way: the first
   * heartbeat of a job the room still has pending records it as started.
   */
  async progress(taskId: string, jobId: string, update: Progress): Promise<void> {
    await this.load(taskId);
    const job = this.job(jobId);
    // A finished job's late tick is dropped; an unknown job is not this task's.
    if (!job || FINISHED_JOB.includes(job.status)) return;
    const events: TaskEvent[] = [];
    const now = Date.now();
    if (job.status !== "claimed") {
      this.sql(
        `UPDATE jobs SET status = 'claimed', progress = 0, stage = 'started', message = NULL WHERE id = ?`,
        jobId,
      );
      events.push(this.append(taskId, "status", jobId, "claimed", null, null));
    }
    const stage = update.stage ?? (job.status === "claimed" ? job.stage : "started");
    this.sql(
      `UPDATE jobs SET progress = ?, stage = ?, message = ?, updated_at = ? WHERE id = ?`,
      update.progress ?? (job.status === "claimed" ? job.progress : 0),
      stage,
      update.message ?? null,
      now,
      jobId,
    );
    events.push(this.append(taskId, "progress", jobId, "claimed", update.message ?? null, null));
    await this.project(taskId);
    this.broadcast(events);
  }

  state(taskId: string): TaskState {
    const aggregate = this.aggregate();
    return { task_id: taskId, ...aggregate, last_seq: this.lastSeq() };
  }

  /** Events after `after`, waiting up to `waitMs` for the first new one (long-poll). */
  async events(taskId: string, after: number, waitMs = 0): Promise<{ state: TaskState; events: TaskEvent[] }> {
    await this.load(taskId);
    if (waitMs > 0 && this.lastSeq() <= after && !this.finished()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.add(done);
      });
    }
    return { state: this.state(taskId), events: this.eventsAfter(after) };
  }

  /** WebSocket upgrade: `?task_id=…&after=<seq>` replays the backlog, then streams live events. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const taskId = url.searchParams.get("task_id") ?? "";
    const after = Number(url.searchParams.get("after") ?? 0) || 0;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    await this.load(taskId);
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    for (const event of this.eventsAfter(after)) server.send(JSON.stringify(event));
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    ws.close(code === 1005 ? 1000 : code, "closing");
  }

  // ── internals ──────────────────────────────────────────────────────────

  /** A room not opened at dispatch (its opening failed): learn the task's jobs from D1, once. */
  private async load(taskId: string): Promise<void> {
    if (this.meta("task_id")) return;
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.meta("task_id")) return;
      // The board projects a job to D1 before telling the room, so a finished job arrives here
      // already finished: take its error too, or the task would fail without one.
      const rows = await database(this.env.DB)
        .select({ id: jobs.id, status: jobs.status, errorCode: jobs.errorCode, errorMessage: jobs.errorMessage })
        .from(jobs)
        .where(eq(jobs.taskId, taskId));
      for (const row of rows) {
        const error = row.errorCode ? JSON.stringify({ code: row.errorCode, message: row.errorMessage ?? "" }) : null;
        this.sql(
          `INSERT OR IGNORE INTO jobs (id, status, progress, error, updated_at) VALUES (?, ?, ?, ?, ?)`,
          row.id,
          row.status,
          row.status === "completed" ? 1 : 0,
          row.status === "failed" ? error : null,
          Date.now(),
        );
      }
      this.setMeta("task_id", taskId);
    });
  }

  private aggregate(): Omit<TaskState, "task_id" | "last_seq"> {
    const all = this.sql<JobState>(`SELECT * FROM jobs ORDER BY updated_at DESC`);
    const failed = all.find((job) => job.status === "failed");
    const status: TaskStatus = failed
      ? "failed"
      : all.length > 0 && all.every((job) => job.status === "completed")
        ? "done"
        : all.some((job) => job.status !== "pending")
          ? "running"
          : "pending";
    const progress =
      all.length === 0
        ? 0
        : all.reduce((sum, job) => sum + (job.status === "completed" ? 1 : job.progress), 0) / all.length;
    const active = all.find((job) => job.status === "claimed");
    const stage = status === "running" ? (active?.stage ?? "running") : status === "pending" ? "queued" : status;
    return {
      status,
      progress: status === "done" ? 1 : Math.min(1, progress),
      stage,
      error: failed?.error ? (JSON.parse(failed.error) as JobError) : null,
    };
  }

  /** Writes the task row when its status or stage differs from what D1 last got. */
  private async project(taskId: string): Promise<void> {
    const { status, progress, stage, error } = this.aggregate();
    const signature = `${status}|${stage}`;
    if (this.meta("projected") === signature) return;
    const now = new Date();
    const finished = status === "done" || status === "failed";
    await database(this.env.DB)
      .update(tasks)
      .set({
        status,
        progress: Math.round(progress * 1000),
        stage,
        errorCode: error?.code ?? null,
        errorMessage: error?.message ?? null,
        updatedAt: now,
        ...(finished ? { finishedAt: now } : {}),
      })
      .where(and(eq(tasks.id, taskId), notInArray(tasks.status, ["done", "failed"])));
    this.setMeta("projected", signature);
  }

  private append(
    taskId: string,
    kind: TaskEvent["kind"],
    jobId: string | null,
    jobStatus: JobStatus | null,
    message: string | null,
    error: JobError | null,
  ): TaskEvent {
    const { status, progress, stage } = this.aggregate();
    const body = {
      at: new Date().toISOString(),
      task_id: taskId,
      kind,
      status,
      progress,
      stage,
      message,
      job_id: jobId,
      job_status: jobStatus,
      error,
    };
    const seq = this.sql<{ seq: number }>(`INSERT INTO events (body) VALUES (?) RETURNING seq`, JSON.stringify(body))[0]
      ?.seq;
    return { seq: seq ?? 0, ...body };
  }

  private broadcast(events: TaskEvent[]): void {
    if (events.length === 0) return;
    for (const ws of this.ctx.getWebSockets()) {
      for (const event of events) {
        try {
          ws.send(JSON.stringify(event));
        } catch {
          // A socket closing under us is dropped; its client resumes from its last seq.
        }
      }
    }
    for (const wake of [...this.waiters]) wake();
  }

  private eventsAfter(after: number): TaskEvent[] {
    return this.sql<{ seq: number; body: string }>(
      `SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
      after,
      BACKLOG_LIMIT,
    ).map((row) => ({ seq: row.seq, ...(JSON.parse(row.body) as Omit<TaskEvent, "seq">) }));
  }

  private finished(): boolean {
    const { status } = this.aggregate();
    return status === "done" || status === "failed";
  }

  private lastSeq(): number {
    return this.sql<{ seq: number | null }>(`SELECT max(seq) AS seq FROM events`)[0]?.seq ?? 0;
  }

  private job(jobId: string): JobState | undefined {
    return this.sql<JobState>(`SELECT * FROM jobs WHERE id = ?`, jobId)[0];
  }

  private meta(key: string): string | undefined {
    return this.sql<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key)[0]?.value;
  }

  private setMeta(key: string, value: string): void {
    this.sql(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      value,
    );
  }

  private sql<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
    return this.ctx.storage.sql.exec<T>(query, ...bindings).toArray();
  }
}

function transition(event: JobEvent): {
  status: JobStatus;
  progress: number;
  stage: string | null;
  message: string | null;
  error: JobError | null;
} {
  switch (event.type) {
    case "claimed":
      return { status: "claimed", progress: 0, stage: "started", message: null, error: null };
    case "requeued":
      return {
        status: "pending",
        progress: 0,
        stage: null,
        message: `Retrying after: ${event.error.message}`,
        error: null,
      };
    case "completed":
      return { status: "completed", progress: 1, stage: "done", message: null, error: null };
    case "failed":
      return { status: "failed", progress: 0, stage: "failed", message: event.error.message, error: event.error };
  }
}
