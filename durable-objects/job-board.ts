/**
 * JobBoard: the pending jobs of one job type (one shard of it), their leases
 * and their claims. A Durable Object runs one call at a time and every
 * transition below is a synchronous SQLite transaction, so a claim has exactly
 * one winner and a submit is applied once.
 *
 * Each transition writes an outbox row in the same transaction; the outbox is
 * then projected to D1 and to the task's TaskRoom after the call returns, and
 * retried by the alarm until it succeeds. So the request path never waits on
 * D1 to claim, and nothing the board decided is lost if D1 or the room is
 * briefly unreachable.
 *
 * Lock tokens are `<fence>.<random>`: the fence comes from a counter that only
 * grows, the random part makes a token unguessable by other agents.
 */
import { DurableObject } from "cloudflare:workers";
import { randomSecret } from "../worker/auth/crypto";
import { configFrom } from "../worker/config";
import type { Job, JobOutcome, JobStatus } from "../worker/contracts/agent-protocol";
import { JOB_TYPES } from "../worker/contracts/job-types";
import { recordJobEvents, tellRooms } from "../worker/core/jobs/projection";
import type { AgentRef, BoardJob, JobError, JobEvent } from "../worker/core/jobs/types";

/** A listed job is hidden from other agents this long, so concurrent pollers rarely collide on claims. */
const OFFER_MS = 3000;
/** Finished jobs are kept this long so a repeated submit or fail gets its original answer. */
const FINISHED_KEEP_MS = 24 * 3600_000;
const FLUSH_RETRY_MS = 2000;
const CLAIM_COALESCE_MS = 100;
const FLUSH_BATCH = 25;
/** Agent liveness is written at most this often per agent. */
const SEEN_WRITE_MS = 10_000;

interface JobRow {
  id: string;
  task_id: string;
  job: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  not_before: number;
  start_deadline: number | null;
  lock_token: string | null;
  agent_id: string | null;
  principal_id: number | null;
  locked_until: number | null;
  outcome: string | null;
  finished_at: number | null;
  [key: string]: SqlStorageValue;
}

export type Refusal = { ok: false; reason: "not_found" | "state_conflict" | "lock_invalid"; message: string };
export type Claimed = { ok: true; job: Job };
export type Lease = {
  ok: true;
  lockedUntil: number;
  taskId: string;
  job: BoardJob;
  /** The attempt the lease belongs to: the TaskRoom ignores a heartbeat from one that has since ended. */
  attempt: number;
  /** The holder's first heartbeat of this attempt (tells the TaskRoom the job started). */
  first?: boolean;
};
export type Outcome = { ok: true; outcome: JobOutcome; replay: boolean };

export interface BoardStats {
  pending: number;
  claimed: number;
  finished: number;
  outbox: number;
  agentsAlive: { agentId: string; principalId: number; capacityAccountId: string | null; lastSeen: number }[];
}

export class JobBoard extends DurableObject<Env> {
  private readonly waiters = new Set<() => void>();
  private readonly offers = new Map<string, { agentId: string; until: number }>();
  private readonly seenWritten = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  /**
   * Per live lock token that has heartbeated: the lease end D1 last heard of.
   * Memory only (after eviction tokens start over, harmlessly); a token is
   * forgotten when its attempt ends.
   */
  private readonly heartbeated = new Map<string, number>();
  /** Set when the outbox holds more than claims: flush without coalescing. */
  private urgent = false;
  private coalescing: ReturnType<typeof setTimeout> | undefined;
  /** The alarm time this instance last set (unknown after eviction, so it is set again). */
  private alarmAt: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, task_id TEXT NOT NULL, job TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, not_before INTEGER NOT NULL DEFAULT 0,
        start_deadline INTEGER, lock_token TEXT, agent_id TEXT, principal_id INTEGER, locked_until INTEGER,
        outcome TEXT, finished_at INTEGER, created_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at);
      CREATE INDEX IF NOT EXISTS jobs_by_holder ON jobs (agent_id, status);
      -- Deadlines are read on every call (expireDue, afterChange): a backlog of pending jobs
      -- must not make each enqueue scan it.
      CREATE INDEX IF NOT EXISTS jobs_by_start_deadline ON jobs (status, attempts, start_deadline);
      CREATE INDEX IF NOT EXISTS jobs_by_lease ON jobs (status, locked_until);
      CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (status, finished_at);
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL,
        recorded INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS agents (agent_id TEXT PRIMARY KEY, principal_id INTEGER NOT NULL,
        capacity_account_id TEXT, last_seen INTEGER NOT NULL, max_parallel INTEGER);
      CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    const columns = this.sql<{ name: string }>(`PRAGMA table_info(outbox)`).map((column) => column.name);
    // Boards created before the outbox recorded its D1 step separately.
    if (!columns.includes("recorded")) {
      this.ctx.storage.sql.exec(`ALTER TABLE outbox ADD COLUMN recorded INTEGER NOT NULL DEFAULT 0`);
    }
    // …and before they knew how many jobs each agent may hold (null: not heard since).
    if (!this.sql<{ name: string }>(`PRAGMA table_info(agents)`).some((column) => column.name === "max_parallel")) {
      this.ctx.storage.sql.exec(`ALTER TABLE agents ADD COLUMN max_parallel INTEGER`);
    }
  }

  // ── RPC ────────────────────────────────────────────────────────────────

  /**
   * Adds jobs (one task's, or a queue batch's) in one transaction. Idempotent: a
   * job this board already holds, or has finished, is left as it is.
   */
  enqueue(jobs: readonly BoardJob[], now = Date.now()): { added: boolean[] } {
    this.expireDue(now);
    const added = this.ctx.storage.transactionSync(() => jobs.map((job) => this.insert(job, now)));
    if (added.includes(true)) {
      this.expireDue(now);
      this.wakeWaiters();
    }
    this.afterChange(now);
    return { added };
  }

  /**
   * Claimable jobs for this agent, oldest first. A listed job is offered to the
   * lister for OFFER_MS and hidden from other agents meanwhile, so concurrent
   * pollers rarely collide on a claim. An offer is never renewed: once it lapses
   * the job is visible to all, and its last holder cannot take a new offer on it
   * for another OFFER_MS, so no agent can keep a job from the others by listing.
   * An agent is listed no more jobs than it may still hold, so one at its
   * limit takes no offers that would hide jobs from agents with room.
   */
  list(agent: AgentRef, limit: number, now = Date.now(), reserve = true): Job[] {
    this.seen(agent, now);
    this.expireDue(now);
    this.pruneOffers(now);
    const room = Math.min(limit, agent.maxParallel - this.heldBy(agent.agentId));
    const listed: Job[] = [];
    if (room <= 0) return listed;
    for (const row of this.claimableRows(room + this.offers.size, now)) {
      if (listed.length >= room) break;
      const offer = this.offers.get(row.id);
      if (offer && offer.agentId !== agent.agentId && offer.until > now) continue;
      if (reserve && !offer) this.offers.set(row.id, { agentId: agent.agentId, until: now + OFFER_MS });
      listed.push(this.render(row));
    }
    return listed;
  }

  /**
   * Long-poll support: waits until a job may be claimable (one was enqueued or
   * put back, or a backoff ended) or the timeout passes, then lists as `list`
   * does — one call instead of a wake-up and a second round trip. Calls
   * interleave across this await, so a waiting poll never blocks claims.
   */
  async waitForWork(agent: AgentRef, timeoutMs: number, limit: number, now = Date.now()): Promise<Job[]> {
    this.seen(agent, now);
    if (this.list(agent, 1, now, false).length === 0) await this.nextWork(agent, timeoutMs, now);
    // No offers from a woken poll: its caller may be gone, and would hide the job for nothing.
    return this.list(agent, limit, Date.now(), false);
  }

  /** Sleeps until work may be visible to this agent: an enqueue, a backoff's end, another agent's offer lapsing. */
  private nextWork(agent: AgentRef, timeoutMs: number, now: number): Promise<void> {
    const nextBackoffEnd = this.sql<{ at: number | null }>(
      `SELECT min(not_before) AS at FROM jobs WHERE status = 'pending' AND not_before > ?`,
      now,
    )[0]?.at;
    const offerEnds = [...this.offers.values()]
      .filter((offer) => offer.agentId !== agent.agentId && offer.until > now)
      .map((offer) => offer.until);
    const next = Math.min(nextBackoffEnd ?? Number.POSITIVE_INFINITY, ...offerEnds);
    const wait = Math.max(0, Math.min(timeoutMs, next - now));
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, wait);
      this.waiters.add(wake);
    });
  }

  claim(jobId: string, agent: AgentRef, now = Date.now()): Claimed | Refusal {
    this.seen(agent, now);
    this.expireDue(now);
    const row = this.row(jobId);
    if (!row) return refusal("not_found", "No such job");
    if (row.status !== "pending") return refusal("state_conflict", `Job is ${row.status}, not claimable`);
    if (row.not_before > now) {
      return refusal("state_conflict", `Job is backing off until ${new Date(row.not_before).toISOString()}`);
    }
    const held = this.heldBy(agent.agentId);
    if (held >= agent.maxParallel) {
      return refusal("state_conflict", `This agent already holds ${held} jobs, its limit (max_parallel_jobs_allowed)`);
    }
    const { JOB_LEASE_S } = configFrom(this.env);
    const token = `${this.nextFence()}.${randomSecret(18)}`;
    const lockedUntil = now + JOB_LEASE_S * 1000;
    const attempt = row.attempts + 1;
    this.ctx.storage.transactionSync(() => {
      this.sql(
        `UPDATE jobs SET status = 'claimed', attempts = ?, lock_token = ?, agent_id = ?, principal_id = ?,
           locked_until = ?, outcome = NULL WHERE id = ?`,
        attempt,
        token,
        agent.agentId,
        agent.principalId,
        lockedUntil,
        jobId,
      );
      this.emit({
        type: "claimed",
        jobId,
        taskId: row.task_id,
        at: now,
        attempt,
        agentId: agent.agentId,
        lockedUntil,
      });
    });
    this.offers.delete(jobId);
    this.afterChange(now);
    const claimed = this.row(jobId);
    if (!claimed) return refusal("not_found", "No such job");
    return { ok: true, job: this.render(claimed) };
  }

  /** Extends the lease of the current holder; progress itself goes to the TaskRoom. */
  heartbeat(jobId: string, token: string, now = Date.now()): Lease | Refusal {
    this.expireDue(now);
    const held = this.holding(jobId, token);
    if (!held.ok) return held;
    const leaseMs = configFrom(this.env).JOB_LEASE_S * 1000;
    const lockedUntil = now + leaseMs;
    const { row } = held;
    this.sql(`UPDATE jobs SET locked_until = ? WHERE id = ?`, lockedUntil, jobId);
    if (row.agent_id) this.touchAgent(row.agent_id, row.principal_id ?? 0, now);
    const first = !this.heartbeated.has(token);
    // D1 learns of the longer lease at most once per half lease (the reconciler reads it);
    // a "claimed" event with the same attempt and a later locked_until says exactly that.
    const known = this.heartbeated.get(token) ?? row.locked_until ?? 0;
    this.heartbeated.set(token, known);
    if (row.agent_id && lockedUntil - known > leaseMs / 2) {
      this.heartbeated.set(token, lockedUntil);
      this.emit({
        type: "claimed",
        jobId,
        taskId: row.task_id,
        at: now,
        attempt: row.attempts,
        agentId: row.agent_id,
        lockedUntil,
      });
      this.afterChange(now);
    }
    return { ok: true, lockedUntil, taskId: row.task_id, job: parseJob(row), attempt: row.attempts, first };
  }

  /** The current lease, without extending it (input downloads check this). */
  lease(jobId: string, token: string, now = Date.now()): Lease | Refusal {
    this.expireDue(now);
    const held = this.holding(jobId, token);
    if (!held.ok) return held;
    const { row } = held;
    return {
      ok: true,
      lockedUntil: row.locked_until ?? now,
      taskId: row.task_id,
      job: parseJob(row),
      attempt: row.attempts,
    };
  }

  /** Applied once: the same token again returns the stored outcome; any other token is refused. */
  submit(jobId: string, token: string, result: Record<string, unknown>, now = Date.now()): Outcome | Refusal {
    this.expireDue(now);
    const replay = this.replay(jobId, token, "submit");
    if (replay) return replay;
    const held = this.holding(jobId, token);
    if (!held.ok) return held;
    const outcome = this.ctx.storage.transactionSync(() =>
      this.finish(held.row, "completed", null, false, now, result),
    );
    this.afterChange(now);
    return { ok: true, outcome, replay: false };
  }

  /** A retryable failure puts the job back with backoff while attempts remain; otherwise it fails. */
  fail(jobId: string, token: string, error: JobError & { retryable: boolean }, now = Date.now()): Outcome | Refusal {
    this.expireDue(now);
    const replay = this.replay(jobId, token, "fail");
    if (replay) return replay;
    const held = this.holding(jobId, token);
    if (!held.ok) return held;
    const { row } = held;
    const outcome = this.ctx.storage.transactionSync(() =>
      error.retryable && row.attempts < row.max_attempts
        ? this.requeue(row, error, now)
        : this.finish(row, "failed", error.retryable ? attemptsExhausted(row, error) : error, error.retryable, now),
    );
    this.wakeWaiters();
    this.afterChange(now);
    return { ok: true, outcome, replay: false };
  }

  /**
   * A surface gives up on a job it no longer wants run (a deadline it enforces, a
   * deleted task): a pending or claimed job fails now with `error`, and its lock
   * token is retired, so the holder's next heartbeat (409) stops it and a late
   * submit or fail is refused instead of applied.
   */
  abandon(jobId: string, error: JobError, deadLetter: boolean, now = Date.now()): Outcome | Refusal {
    this.expireDue(now);
    const row = this.row(jobId);
    if (!row) return refusal("not_found", "No such job");
    if (row.status === "completed" || row.status === "failed") {
      return refusal("state_conflict", `Job is already ${row.status}`);
    }
    const outcome = this.ctx.storage.transactionSync(() => {
      const failed = this.finish(row, "failed", error, deadLetter, now);
      this.sql(`UPDATE jobs SET lock_token = NULL WHERE id = ?`, jobId);
      return failed;
    });
    this.offers.delete(jobId);
    // Its holder has room for another job now.
    this.wakeWaiters();
    this.afterChange(now);
    return { ok: true, outcome, replay: false };
  }

  private heldBy(agentId: string): number {
    return (
      this.sql<{ n: number }>(`SELECT count(*) AS n FROM jobs WHERE status = 'claimed' AND agent_id = ?`, agentId)[0]
        ?.n ?? 0
    );
  }

  has(jobId: string): boolean {
    return this.row(jobId) !== undefined;
  }

  stats(now = Date.now()): BoardStats {
    const count = (status: string) =>
      this.sql<{ n: number }>(`SELECT count(*) AS n FROM jobs WHERE status = ?`, status)[0]?.n ?? 0;
    return {
      pending: count("pending"),
      claimed: count("claimed"),
      finished: count("completed") + count("failed"),
      outbox: this.sql<{ n: number }>(`SELECT count(*) AS n FROM outbox`)[0]?.n ?? 0,
      agentsAlive: this.liveAgents(now),
    };
  }

  /**
   * Agents heard from (polling, claiming, heartbeating) within AGENT_ALIVE_S.
   * Only agents able to run this board's job type ever poll it, so these are
   * the ones that could start its jobs now.
   */
  private liveAgents(now: number): BoardStats["agentsAlive"] {
    return this.sql<{
      agent_id: string;
      principal_id: number;
      capacity_account_id: string | null;
      last_seen: number;
    }>(`SELECT * FROM agents WHERE last_seen >= ? ORDER BY last_seen DESC`, this.aliveSince(now)).map((agent) => ({
      agentId: agent.agent_id,
      principalId: agent.principal_id,
      capacityAccountId: agent.capacity_account_id,
      lastSeen: agent.last_seen,
    }));
  }

  /**
   * Who could start a job now: agents alive (as liveAgents), and how many of
   * them hold fewer jobs than they may. A job handed to this board directly is
   * taken at such an agent's next poll; with none free it would wait here for a
   * slot anyway, however it arrived.
   */
  presence(now = Date.now()): { alive: number; free: number } {
    const [counts] = this.sql<{ alive: number; free: number }>(
      `SELECT count(*) AS alive, coalesce(sum(held < max_parallel), 0) AS free FROM (
         SELECT coalesce(agents.max_parallel, 1) AS max_parallel,
           (SELECT count(*) FROM jobs WHERE jobs.agent_id = agents.agent_id AND jobs.status = 'claimed') AS held
         FROM agents WHERE last_seen >= ?)`,
      this.aliveSince(now),
    );
    return { alive: counts?.alive ?? 0, free: counts?.free ?? 0 };
  }

  /** Projects every pending outbox event; resolves when the outbox is empty or a projection failed. */
  flush(): Promise<void> {
    this.flushing ??= this.drainOutbox().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    const now = Date.now();
    this.expireDue(now);
    this.sql(`DELETE FROM jobs WHERE status IN ('completed', 'failed') AND finished_at < ?`, now - FINISHED_KEEP_MS);
    await this.flush();
    this.afterChange(Date.now());
  }

  private aliveSince(now: number): number {
    return now - configFrom(this.env).AGENT_ALIVE_S * 1000;
  }

  // ── transitions ────────────────────────────────────────────────────────

  /** A new job, pending (or failed at once if it arrives with its attempts used up); false if already held. */
  private insert(job: BoardJob, now: number): boolean {
    if (this.row(job.id)) return false;
    this.sql(
      `INSERT INTO jobs (id, task_id, job, status, attempts, max_attempts, start_deadline, created_at)
       VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)`,
      job.id,
      job.taskId,
      JSON.stringify(job),
      job.attempts,
      job.maxAttempts,
      job.startDeadlineAt,
      job.createdAt,
    );
    const row = this.row(job.id);
    if (row && job.attempts >= job.maxAttempts) this.finish(row, "failed", attemptsExhausted(row), true, now);
    return true;
  }

  /** Leases that ran out go back to pending (or fail after the last attempt); unstarted jobs past their deadline fail. */
  private expireDue(now: number): void {
    const expired = this.sql<JobRow>(`SELECT * FROM jobs WHERE status = 'claimed' AND locked_until <= ?`, now);
    const late = this.sql<JobRow>(
      `SELECT * FROM jobs WHERE status = 'pending' AND attempts = 0 AND start_deadline <= ?`,
      now,
    );
    if (expired.length === 0 && late.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const row of expired) {
        const error = {
          code: "lease_expired",
          message: `No heartbeat from the holder within the lease (attempt ${row.attempts} of ${row.max_attempts})`,
        };
        if (row.attempts < row.max_attempts) this.requeue(row, error, now);
        else this.finish(row, "failed", attemptsExhausted(row, error), true, now);
        // The board decided this, not the holder: its lapsed token must be refused, never replayed this outcome.
        this.sql(`UPDATE jobs SET lock_token = NULL WHERE id = ?`, row.id);
      }
      for (const row of late) {
        this.finish(
          row,
          "failed",
          { code: "not_started", message: "No capable agent started this job before its start deadline" },
          true, // a dead letter, as attempts exhausted is: audited (JobEvent.deadLetter)
          now,
        );
      }
    });
    this.wakeWaiters();
    this.afterChange(now);
  }

  private requeue(row: JobRow, error: JobError, now: number): JobOutcome {
    if (row.lock_token) this.heartbeated.delete(row.lock_token);
    const { JOB_BACKOFF_BASE_MS, JOB_BACKOFF_MAX_MS } = configFrom(this.env);
    const retryAt = now + Math.min(JOB_BACKOFF_MAX_MS, JOB_BACKOFF_BASE_MS * 2 ** Math.max(0, row.attempts - 1));
    const outcome: JobOutcome = {
      job_id: row.id,
      task_id: row.task_id,
      status: "pending",
      attempt: row.attempts,
      retry_at: new Date(retryAt).toISOString(),
      error_code: error.code,
    };
    this.sql(
      `UPDATE jobs SET status = 'pending', not_before = ?, locked_until = NULL, agent_id = NULL, outcome = ?
       WHERE id = ?`,
      retryAt,
      JSON.stringify(outcome),
      row.id,
    );
    this.emit({
      type: "requeued",
      jobId: row.id,
      taskId: row.task_id,
      at: now,
      attempt: row.attempts,
      retryAt,
      error,
    });
    return outcome;
  }

  private finish(
    row: JobRow,
    status: "completed" | "failed",
    error: JobError | null,
    deadLetter: boolean,
    now: number,
    result: Record<string, unknown> = {},
  ): JobOutcome {
    if (row.lock_token) this.heartbeated.delete(row.lock_token);
    const outcome: JobOutcome = {
      job_id: row.id,
      task_id: row.task_id,
      status,
      attempt: row.attempts,
      retry_at: null,
      error_code: error?.code ?? null,
    };
    this.sql(
      `UPDATE jobs SET status = ?, locked_until = NULL, outcome = ?, finished_at = ? WHERE id = ?`,
      status,
      JSON.stringify(outcome),
      now,
      row.id,
    );
    const base = {
      jobId: row.id,
      taskId: row.task_id,
      at: now,
      attempt: row.attempts,
    };
    this.emit(
      status === "completed"
        ? { type: "completed", ...base, result }
        : { type: "failed", ...base, error: error ?? { code: "failed", message: "Job failed" }, deadLetter },
    );
    return outcome;
  }

  // ── helpers ────────────────────────────────────────────────────────────

  private holding(jobId: string, token: string): { ok: true; row: JobRow } | Refusal {
    const row = this.row(jobId);
    if (!row) return refusal("not_found", "No such job");
    if (row.status === "completed" || row.status === "failed") {
      return refusal("state_conflict", `Job is already ${row.status}`);
    }
    if (row.status !== "claimed" || !row.lock_token || !sameToken(row.lock_token, token)) {
      return refusal(
        "lock_invalid",
        "This lock token does not hold the job: the lease expired or another agent holds it",
      );
    }
    return { ok: true, row };
  }

  /** The stored answer for a repeated submit or fail by the token that made it. */
  private replay(jobId: string, token: string, op: "submit" | "fail"): Outcome | undefined {
    const row = this.row(jobId);
    if (!row || row.status === "claimed" || !row.outcome || !row.lock_token) return undefined;
    if (!sameToken(row.lock_token, token)) return undefined;
    // Only the call that made the outcome gets it again: a submit never replays a fail's answer.
    if ((op === "submit") !== (row.status === "completed")) return undefined;
    return { ok: true, outcome: JSON.parse(row.outcome) as JobOutcome, replay: true };
  }

  private render(row: JobRow, now = Date.now()): Job {
    const job = parseJob(row);
    const claimed = row.status === "claimed";
    return {
      job_id: job.id,
      job_type: job.jobType,
      asset_uuid: null,
      lock_token: claimed ? row.lock_token : null,
      locked_until: claimed && row.locked_until ? new Date(row.locked_until).toISOString() : null,
      paths: {},
      derived_target_dir: null,
      task_id: job.taskId,
      status: row.status,
      required_capabilities: [...JOB_TYPES[job.jobType].capabilities],
      params: job.params,
      inputs: job.inputs.map((input) => ({
        name: input.name,
        url: `/api/v1/jobs/${job.id}/inputs/${input.name}`,
        content_type: input.contentType,
        size_bytes: input.sizeBytes,
      })),
      attempt: row.attempts,
      max_attempts: row.max_attempts,
      created_at: new Date(job.createdAt || now).toISOString(),
    };
  }

  private emit(event: JobEvent): void {
    this.sql(`INSERT INTO outbox (event) VALUES (?)`, JSON.stringify(event));
    if (event.type !== "claimed") this.urgent = true;
  }

  /**
   * Results, failures and retries are projected at once. Claims alone wait up
   * to CLAIM_COALESCE_MS so that a burst of them shares one D1 batch: D1 says
   * "claimed" a moment later, and the board stays as cheap as one write.
   */
  private scheduleFlush(): void {
    if (this.urgent) {
      this.urgent = false;
      if (this.coalescing) clearTimeout(this.coalescing);
      this.coalescing = undefined;
      void this.flush();
    } else {
      this.coalescing ??= setTimeout(() => {
        this.coalescing = undefined;
        void this.flush();
      }, CLAIM_COALESCE_MS);
    }
  }

  /**
   * Projects the outbox in seq order, in pages: first to D1 (rows are marked
   * `recorded`), then to the rooms. A row leaves the outbox once its room has
   * it; a room that fails keeps only its own task's rows (retried by the
   * alarm), so it never holds up D1 or other tasks.
   */
  private async drainOutbox(): Promise<void> {
    let after = 0;
    for (;;) {
      const rows = this.sql<{ seq: number; event: string; recorded: number }>(
        `SELECT seq, event, recorded FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`,
        after,
        FLUSH_BATCH,
      );
      if (rows.length === 0) return;
      after = rows[rows.length - 1]?.seq ?? after;
      const events = rows.map((row) => ({ ...row, parsed: JSON.parse(row.event) as JobEvent }));
      try {
        const unrecorded = events.filter((row) => !row.recorded);
        await recordJobEvents(
          this.env,
          unrecorded.map((row) => row.parsed),
        );
        for (const row of unrecorded) this.sql(`UPDATE outbox SET recorded = 1 WHERE seq = ?`, row.seq);
      } catch (error) {
        // The alarm retries; nothing leaves the outbox before D1 has it.
        console.error(JSON.stringify({ level: "warn", board_projection_failed: String(error) }));
        return;
      }
      const { failedTasks, firstError } = await tellRooms(
        this.env,
        events.map((row) => row.parsed),
      );
      if (failedTasks.size > 0) {
        console.error(
          JSON.stringify({ level: "warn", room_projection_failed: [...failedTasks], error: String(firstError) }),
        );
      }
      for (const row of events) {
        if (!failedTasks.has(row.parsed.taskId)) this.sql(`DELETE FROM outbox WHERE seq = ?`, row.seq);
      }
    }
  }

  /** Arms the alarm for the next thing that will need doing, and starts projecting new events. */
  private afterChange(now: number): void {
    // (A LIMIT here would bound the whole UNION, not its last SELECT: the outbox row is gated by EXISTS instead.)
    const next = this.sql<{ at: number | null }>(
      `SELECT min(at) AS at FROM (
         SELECT min(locked_until) AS at FROM jobs WHERE status = 'claimed'
         UNION ALL SELECT min(start_deadline) FROM jobs WHERE status = 'pending' AND attempts = 0
         UNION ALL SELECT min(finished_at) + ? FROM jobs WHERE status IN ('completed', 'failed')
         UNION ALL SELECT ? WHERE EXISTS (SELECT 1 FROM outbox))`,
      FINISHED_KEEP_MS,
      now + FLUSH_RETRY_MS,
    )[0]?.at;
    // Setting the alarm is a storage write: skip it when the time is the one already set.
    const at = next === null || next === undefined ? undefined : Math.max(next, now + 1);
    // An alarm already set earlier (still ahead) fires first and re-arms: no need to move it.
    if (at !== undefined && (this.alarmAt === undefined || at < this.alarmAt || this.alarmAt <= now)) {
      this.alarmAt = at;
      void this.ctx.storage.setAlarm(at);
    }
    if (this.sql(`SELECT 1 FROM outbox LIMIT 1`).length > 0) this.scheduleFlush();
  }

  private claimableRows(limit: number, now: number): JobRow[] {
    return this.sql<JobRow>(
      `SELECT * FROM jobs WHERE status = 'pending' AND not_before <= ? ORDER BY created_at, id LIMIT ?`,
      now,
      limit,
    );
  }

  /** Offers live OFFER_MS, then bar their holder from a new one for OFFER_MS more; then they are forgotten. */
  private pruneOffers(now: number): void {
    for (const [jobId, offer] of this.offers) if (offer.until + OFFER_MS <= now) this.offers.delete(jobId);
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private nextFence(): number {
    const row = this.sql<{ value: number }>(
      `INSERT INTO counters (name, value) VALUES ('fence', 1)
       ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
    )[0];
    return row?.value ?? 1;
  }

  private seen(agent: AgentRef, now: number): void {
    this.touchAgent(agent.agentId, agent.principalId, now, agent.capacityAccountId, agent.maxParallel);
  }

  private touchAgent(
    agentId: string,
    principalId: number,
    now: number,
    account: string | null = null,
    maxParallel: number | null = null,
  ): void {
    if (now - (this.seenWritten.get(agentId) ?? 0) < SEEN_WRITE_MS) return;
    this.seenWritten.set(agentId, now);
    this.sql(
      `INSERT INTO agents (agent_id, principal_id, capacity_account_id, last_seen, max_parallel) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET last_seen = excluded.last_seen,
         capacity_account_id = coalesce(excluded.capacity_account_id, agents.capacity_account_id),
         max_parallel = coalesce(excluded.max_parallel, agents.max_parallel)`,
      agentId,
      principalId,
      account,
      now,
      maxParallel,
    );
  }

  private row(jobId: string): JobRow | undefined {
    return this.sql<JobRow>(`SELECT * FROM jobs WHERE id = ?`, jobId)[0];
  }

  private sql<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
    return this.ctx.storage.sql.exec<T>(query, ...bindings).toArray();
  }
}

function parseJob(row: JobRow): BoardJob {
  return JSON.parse(row.job) as BoardJob;
}

function refusal(reason: Refusal["reason"], message: string): Refusal {
  return { ok: false, reason, message };
}

function attemptsExhausted(row: JobRow, last?: JobError): JobError {
  return {
    code: "attempts_exhausted",
    message: `Gave up after ${row.attempts} of ${row.max_attempts} attempts${last ? `; last: ${last.message}` : ""}`,
  };
}

/** Constant-time comparison of two lock tokens. */
function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
