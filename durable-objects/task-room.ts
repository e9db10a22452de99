/**
 * TaskRoom: one per task. It owns the task's live state: each job's status and
 * progress, an ordered log of events with sequence numbers, and the WebSockets
 * watching them (hibernation API, so idle watchers cost nothing). Everything is
 * in SQLite storage, so the room is correct after eviction, and a client that
 * reconnects resumes from the last sequence number it saw. A room opens on the
 * first call about its task (see `load`), so dispatch costs no object here.
 *
 * The task row in D1 is written only at transitions (status or stage change),
 * never on every progress tick.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq, notInArray } from "drizzle-orm";
import { configFrom } from "../worker/config";
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
  /**
   * While running: when the job that has gone longest without news last moved
   * (a transition, or a heartbeat whose progress, stage or message changed).
   * A heartbeat repeating the same progress keeps a lease alive but is no news:
   * surfaces judge stalls by this. Null unless running.
   */
  progressed_at: number | null;
  last_seq: number;
}

interface JobState {
  id: string;
  status: JobStatus;
  progress: number;
  stage: string | null;
  message: string | null;
  error: string | null;
  /** The latest attempt the room has heard of (0: never claimed). */
  attempt: number;
  updated_at: number;
  /** The last time this job's state changed (see TaskState.progressed_at). */
  progressed_at: number | null;
  [key: string]: SqlStorageValue;
}

interface JobTransition {
  status: JobStatus;
  progress: number;
  stage: string | null;
  message: string | null;
  error: JobError | null;
}

const BACKLOG_LIMIT = 1000;
const FINISHED_JOB: readonly JobStatus[] = ["completed", "failed"];
const RESERVED_CLOSE_CODES: readonly number[] = [1005, 1006, 1015];

export class TaskRoom extends DurableObject<Env> {
  private readonly waiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.createTables();
    // Keep-alives are answered without waking the object.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    // A room whose task finished before rooms were archived has no alarm yet: arm it once it wakes.
    void this.ctx.blockConcurrencyWhile(async () => {
      if (this.meta("task_id") && this.finished() && (await this.ctx.storage.getAlarm()) === null) {
        await this.keepUntilArchived();
      }
    });
  }

  private createTables(): void {
    this.ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, progress REAL NOT NULL,
        stage TEXT, message TEXT, error TEXT, attempt INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    const columns = this.sql<{ name: string }>(`PRAGMA table_info(jobs)`).map((column) => column.name);
    // Rooms created before they tracked attempts (their jobs start at 0: any attempt is news to them).
    if (!columns.includes("attempt")) {
      this.ctx.storage.sql.exec(`ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0`);
    }
    // …and before they told progress from a heartbeat that only repeats it.
    if (!columns.includes("progressed_at")) {
      this.ctx.storage.sql.exec(`ALTER TABLE jobs ADD COLUMN progressed_at INTEGER`);
    }
  }

  /**
   * TASK_ROOM_KEEP_S after its task finished, a room lets go of its storage:
   * its events were the live view, and D1 keeps the record. Watchers still
   * connected are closed; a later call rebuilds the story from D1.
   */
  override async alarm(): Promise<void> {
    if (!this.finished()) return;
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, "task archived");
    await this.ctx.storage.deleteAll();
    this.createTables();
  }

  /** Arms the clean-up of a finished task's room (again is harmless: the later time wins). */
  private async keepUntilArchived(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + configFrom(this.env).TASK_ROOM_KEEP_S * 1000);
  }

  /** The task's jobs, and its first event ("Queued", at the task's creation). Once. */
  private open(taskId: string, jobIds: readonly string[], queuedAt: number): void {
    if (this.meta("task_id")) return;
    this.ctx.storage.transactionSync(() => {
      for (const id of jobIds) {
        this.sql(
          `INSERT OR IGNORE INTO jobs (id, status, progress, updated_at) VALUES (?, 'pending', 0, ?)`,
          id,
          queuedAt,
        );
      }
      this.setMeta("task_id", taskId);
      this.setMeta("projected", "pending|queued");
    });
    this.broadcast([this.append(taskId, "status", null, null, "Queued", null, queuedAt)]);
  }

  /**
   * Job transitions from the board's outbox. A replayed or late event is ignored: any event for
   * a finished job, and a claim or requeue of an attempt that already ended or was superseded
   * (a later attempt's heartbeat can overtake it). Results and failures are the board's verdict,
   * whichever attempt they name.
   */
  async applyJobEvents(taskId: string, events: readonly JobEvent[]): Promise<TaskState> {
    await this.load(taskId);
    const appended: TaskEvent[] = [];
    for (const event of events) {
      const job = this.job(event.jobId);
      if (job && FINISHED_JOB.includes(job.status)) continue;
      const verdict = event.type === "completed" || event.type === "failed";
      if (job && !verdict && ended(job, event.attempt)) continue;
      const error = "error" in event ? event.error : null;
      appended.push(this.record(taskId, event.jobId, event.attempt, transition(event.type, error), event.at));
    }
    // Watchers hear first: the events are durable here already, so a D1 failure below must not
    // hold them back. It still throws, and the board's outbox retries (the events above are then
    // ignored as replays, and only the projection is redone).
    this.broadcast(appended);
    await this.project(taskId);
    return this.snapshot(taskId);
  }

  /**
   * A heartbeat of `attempt`, for a job its holder still runs: the board checked
   * the lease before forwarding it. Claims reach the room this way: the first
   * heartbeat of an attempt the room has not seen start records it as started.
   */
  async progress(taskId: string, jobId: string, attempt: number, update: Progress): Promise<void> {
    await this.load(taskId);
    const job = this.job(jobId);
    // A finished job's late tick is dropped, and so is one from an attempt since requeued or
    // superseded (it passed the board just before its lease lapsed); an unknown job is not this task's.
    if (!job || FINISHED_JOB.includes(job.status) || ended(job, attempt)) return;
    const events: TaskEvent[] = [];
    const now = Date.now();
    const starts = job.status !== "claimed" || attempt > job.attempt;
    if (starts) events.push(this.record(taskId, jobId, attempt, transition("claimed", null), now));
    // A heartbeat that only keeps the lease (as the first one may) is no progress to report.
    if (update.progress !== undefined || update.stage !== undefined || update.message !== undefined) {
      const before = starts ? { progress: 0, stage: "started", message: null } : job;
      const next = {
        progress: update.progress ?? before.progress,
        stage: update.stage ?? before.stage,
        message: update.message ?? null,
      };
      const moved =
        starts || next.progress !== before.progress || next.stage !== before.stage || next.message !== before.message;
      this.sql(
        `UPDATE jobs SET progress = ?, stage = ?, message = ?, updated_at = ?,
           progressed_at = CASE WHEN ? THEN ? ELSE progressed_at END WHERE id = ?`,
        next.progress,
        next.stage,
        next.message,
        now,
        moved ? 1 : 0,
        now,
        jobId,
      );
      events.push(this.append(taskId, "progress", jobId, "claimed", update.message ?? null, null));
    }
    // As in applyJobEvents: watchers first, then D1.
    this.broadcast(events);
    await this.project(taskId);
  }

  async state(taskId: string): Promise<TaskState> {
    await this.load(taskId);
    return this.snapshot(taskId);
  }

  private snapshot(taskId: string): TaskState {
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
    return { state: this.snapshot(taskId), events: this.eventsAfter(after) };
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
    // 1005 (no code), 1006 (dropped) and 1015 (TLS) only report a close: sending one throws.
    ws.close(RESERVED_CLOSE_CODES.includes(code) ? 1000 : code, "closing");
  }

  // ── internals ──────────────────────────────────────────────────────────

  /**
   * A room opens on the first call about its task (a board's event, a heartbeat, a watcher,
   * a status read), not at dispatch, so a task nobody has touched yet costs no object: it
   * learns the task's jobs from D1, once.
   * The board projects a job to D1 before telling the room, so a job may arrive here already
   * claimed, requeued or finished: it is opened with every job pending, then each job that moved gets
   * the status event its transition would have made, so a watcher from seq 0 sees the same story.
   */
  private async load(taskId: string): Promise<void> {
    if (this.meta("task_id")) return;
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.meta("task_id")) return;
      const rows = await database(this.env.DB)
        .select({
          id: jobs.id,
          status: jobs.status,
          attempts: jobs.attempts,
          errorCode: jobs.errorCode,
          errorMessage: jobs.errorMessage,
          createdAt: jobs.createdAt,
          updatedAt: jobs.updatedAt,
        })
        .from(jobs)
        .where(eq(jobs.taskId, taskId));
      const created = rows.map((row) => row.createdAt.getTime());
      this.open(
        taskId,
        rows.map((row) => row.id),
        created.length > 0 ? Math.min(...created) : Date.now(),
      );
      for (const row of rows) {
        // A pending job with attempts used was requeued; one without has not moved.
        const type = row.status === "pending" ? (row.attempts > 0 ? "requeued" : null) : row.status;
        if (!type) continue;
        const error = row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? "" } : null;
        // Stamped when it happened, so a rebuilt story keeps its times and stall detection its clock.
        this.record(taskId, row.id, row.attempts, transition(type, error), row.updatedAt.getTime());
      }
      if (this.finished()) await this.keepUntilArchived();
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
    const running = all.filter((job) => job.status === "claimed");
    const active = running[0];
    const stage = status === "running" ? (active?.stage ?? "running") : status === "pending" ? "queued" : status;
    const moments = running.map((job) => job.progressed_at ?? job.updated_at);
    return {
      status,
      progress: status === "done" ? 1 : Math.min(1, progress),
      stage,
      error: failed?.error ? (JSON.parse(failed.error) as JobError) : null,
      progressed_at: status === "running" && moments.length > 0 ? Math.min(...moments) : null,
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
    if (finished) await this.keepUntilArchived();
  }

  /** Sets a job's state (its attempt only ever grows) and appends the status event saying so. */
  private record(taskId: string, jobId: string, attempt: number, next: JobTransition, at: number): TaskEvent {
    this.sql(
      `INSERT INTO jobs (id, status, progress, stage, message, error, attempt, updated_at, progressed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, progress = excluded.progress,
         stage = excluded.stage, message = excluded.message, error = excluded.error,
         attempt = max(attempt, excluded.attempt), updated_at = excluded.updated_at,
         progressed_at = excluded.progressed_at`,
      jobId,
      next.status,
      next.progress,
      next.stage,
      next.message,
      next.error ? JSON.stringify(next.error) : null,
      attempt,
      at,
      at,
    );
    return this.append(taskId, "status", jobId, next.status, next.message, next.error, at);
  }

  private append(
    taskId: string,
    kind: TaskEvent["kind"],
    jobId: string | null,
    jobStatus: JobStatus | null,
    message: string | null,
    error: JobError | null,
    at = Date.now(),
  ): TaskEvent {
    const { status, progress, stage } = this.aggregate();
    const body = {
      at: new Date(at).toISOString(),
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

/**
 * Whether `attempt` is over as far as the room knows: a later one has been heard of, or this one
 * was requeued (a pending job's attempt is the last one that ended; 0 when none has started).
 */
function ended(job: JobState, attempt: number): boolean {
  return attempt < job.attempt || (attempt === job.attempt && job.status === "pending");
}

/** A job's state after a transition; `error` is the requeue's or failure's (D1 may lack one). */
function transition(type: JobEvent["type"], error: JobError | null): JobTransition {
  switch (type) {
    case "claimed":
      return { status: "claimed", progress: 0, stage: "started", message: null, error: null };
    case "requeued":
      return {
        status: "pending",
        progress: 0,
        stage: null,
        message: `Retrying after: ${error?.message ?? "a failed attempt"}`,
        error: null,
      };
    case "completed":
      return { status: "completed", progress: 1, stage: "done", message: null, error: null };
    case "failed": {
      const failure = error ?? { code: "failed", message: "Job failed" };
      return { status: "failed", progress: 0, stage: "failed", message: failure.message, error: failure };
    }
  }
}
