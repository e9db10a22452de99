/**
 * The TaskRoom: a task's ordered event log (seq), streamed over a WebSocket
 * (backlog from ?after, then live), fed by heartbeats' progress; progress
 * after the job finished, or from an attempt since requeued, is ignored; live
 * watchers hear of events even when D1 is down; a room that missed its opening
 * replays what D1 knows; and the D1 task row is written at transitions (status
 * or stage changes), never on every progress tick.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskEvent } from "../../durable-objects/task-room";
import { roomFor } from "../../worker/core/jobs/boards";
import { jobs, tasks } from "../../worker/db/schema";
import { db } from "../helpers/fixtures";
import { buildRequest, expect003 } from "../helpers/http";
import {
  boardOf,
  dispatchFacts,
  expectSettled,
  makeBridge,
  makeOperator,
  type Operator,
  outcomeOf,
  taskEvents,
  taskRecord,
  waitForTask,
  waitUntilListed,
} from "../helpers/jobs";

/** A watcher's socket: events as they arrive, and a way to await the next ones. */
async function watch(op: Operator, taskId: string, after: number) {
  const request = buildRequest(`/admin/tasks/${taskId}/events?after=${after}`, {
    cookies: op.cookies,
    headers: { upgrade: "websocket" },
  });
  const response = await SELF.fetch(request);
  expect(response.status).toBe(101);
  const socket = response.webSocket;
  if (!socket) throw new Error("no WebSocket in the 101 response");
  const received: TaskEvent[] = [];
  let notify = () => {};
  socket.addEventListener("message", (message) => {
    received.push(JSON.parse(String(message.data)) as TaskEvent);
    notify();
  });
  socket.accept();
  return {
    received,
    /** Resolves once `count` events have arrived in all. */
    async until(count: number, timeoutMs = 10_000): Promise<TaskEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`got ${received.length} of ${count} events: ${JSON.stringify(received)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          notify = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return received.slice(0, count);
    },
    close: () => socket.close(1000, "done"),
  };
}

/** Makes the room's D1 calls fail (its own SQLite is untouched); the returned function mends them. */
async function breakRoomD1(taskId: string): Promise<() => Promise<void>> {
  const room = env.TASK_ROOM.getByName(taskId);
  const down = {
    prepare() {
      throw new Error("injected: D1 unavailable");
    },
  } as unknown as D1Database;
  let working: Env | undefined;
  await runInDurableObject(room, (instance) => {
    const target = instance as unknown as { env: Env };
    working = target.env;
    target.env = new Proxy(target.env, { get: (bindings, key) => (key === "DB" ? down : Reflect.get(bindings, key)) });
  });
  return async () => {
    await runInDurableObject(room, (instance) => {
      if (working) (instance as unknown as { env: Env }).env = working;
    });
  };
}

/** The kind, job status and message of each event: what a watcher reads from the log. */
const story = (events: TaskEvent[]) => events.map((event) => [event.kind, event.job_status, event.message]);

describe("the task room", { timeout: 30_000 }, () => {
  it("a WebSocket replays the backlog after ?after, then streams live progress in seq order", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    expect((await bridge.heartbeat(job, { progress: 0.25, stage: "probing" })).status).toBe(200);
    const backlog = (await taskEvents(op, taskId)).events;
    const last = backlog.length;
    expect(last).toBeGreaterThanOrEqual(3);

    const socket = await watch(op, taskId, 1);
    expect(await socket.until(last - 1)).toEqual(backlog.slice(1));

    for (const progress of [0.5, 0.75]) {
      expect((await bridge.heartbeat(job, { progress, stage: "probing", message: `at ${progress}` })).status).toBe(200);
    }
    const live = (await socket.until(last + 1)).slice(last - 1);
    expect(live.map((event) => event.seq)).toEqual([last + 1, last + 2]);
    expect(live.map((event) => [event.kind, event.progress, event.message])).toEqual([
      ["progress", 0.5, "at 0.5"],
      ["progress", 0.75, "at 0.75"],
    ]);

    await outcomeOf(await bridge.submit(job));
    const [done] = (await socket.until(last + 2)).slice(last + 1);
    expect(done).toMatchObject({ seq: last + 3, kind: "status", status: "done", job_status: "completed", progress: 1 });
    socket.close();
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("progress after the job completed is ignored", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    await outcomeOf(await bridge.submit(job));
    await waitForTask(op, taskId);
    const before = await taskEvents(op, taskId);

    await expect003(await bridge.heartbeat(job, { progress: 0.9, stage: "late" }), 409, "STATE_CONFLICT");
    // Even told directly (a heartbeat that passed the board just before the submit), the room ignores it.
    await roomFor(env, taskId).progress(taskId, jobId, job.attempt, { progress: 0.9, stage: "late" });

    expect(await taskEvents(op, taskId)).toEqual(before);
    expect((await taskRecord(taskId)).stage).toBe("done");
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("lets go of its storage TASK_ROOM_KEEP_S after the task finished; a later read rebuilds the story from D1", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    await bridge.heartbeat(job, { progress: 0.5, stage: "probing" });
    await outcomeOf(await bridge.submit(job));
    await waitForTask(op, taskId);
    const room = env.TASK_ROOM.getByName(taskId);
    const alarm = await runInDurableObject(room, (_room, state) => state.storage.getAlarm());
    // Seven days (the default keep) from when it finished.
    expect(alarm).toBeGreaterThan(Date.now() + 6.9 * 24 * 3600_000);
    expect((await taskEvents(op, taskId)).events.length).toBeGreaterThan(2);

    expect(await runDurableObjectAlarm(room)).toBe(true);
    expect(
      await runInDurableObject(room, (_room, state) => state.storage.sql.exec("SELECT * FROM events").toArray()),
    ).toEqual([]);
    // Rebuilt from D1: queued, then the verdict; and armed to go again.
    expect(story((await taskEvents(op, taskId)).events)).toEqual([
      ["status", null, "Queued"],
      ["status", "completed", null],
    ]);
    expect(await runInDurableObject(room, (_room, state) => state.storage.getAlarm())).not.toBeNull();
    await expectSettled(op, taskId, { status: "done", attempts: 1 });

    // A room of a task that finished before rooms were archived (no alarm) is armed when it next wakes.
    await runInDurableObject(room, (_room, state) => state.storage.deleteAlarm());
    await evictDurableObject(room);
    await taskEvents(op, taskId);
    expect(await runInDurableObject(room, (_room, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now());
  });

  it("hears of a claim from the holder's first heartbeat: the task turns running then, with a started event", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    // Claims are not sent to the room (that would double a claim's cost): still pending here.
    expect((await taskEvents(op, taskId)).state.status).toBe("pending");
    expect((await taskRecord(taskId)).status).toBe("pending");

    expect((await bridge.heartbeat(job, { progress: 0, stage: "downloading" })).status).toBe(200);
    const { events } = await taskEvents(op, taskId);
    expect(events.map((event) => [event.kind, event.job_status])).toEqual([
      ["status", null],
      ["status", "claimed"],
      ["progress", "claimed"],
    ]);
    expect(await taskRecord(taskId)).toMatchObject({ status: "running", stage: "downloading" });
    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("writes the D1 task row at stage changes, not on every progress tick", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);

    expect((await bridge.heartbeat(job, { progress: 0.1, stage: "probing" })).status).toBe(200);
    const probing = await taskRecord(taskId);
    expect(probing).toMatchObject({ status: "running", stage: "probing" });
    const seq = (await taskEvents(op, taskId)).state.last_seq;
    for (const progress of [0.3, 0.6, 0.9]) {
      expect((await bridge.heartbeat(job, { progress, stage: "probing" })).status).toBe(200);
      // Each tick reached the room (the heartbeat answers after the room took it) ...
      expect((await taskEvents(op, taskId)).state).toMatchObject({ progress, stage: "probing" });
      // ... but not D1.
      expect(await taskRecord(taskId)).toEqual(probing);
    }
    expect((await taskEvents(op, taskId)).state.last_seq).toBe(seq + 3);

    expect((await bridge.heartbeat(job, { progress: 0.95, stage: "writing" })).status).toBe(200);
    const writing = await taskRecord(taskId);
    expect(writing.stage).toBe("writing");
    expect(writing.updatedAt.getTime()).toBeGreaterThanOrEqual(probing.updatedAt.getTime());
    expect(writing).not.toEqual(probing);

    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a heartbeat without progress records the claim, and no progress event", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);

    expect((await bridge.heartbeat(job)).status).toBe(200);
    const claimed = await taskEvents(op, taskId);
    expect(story(claimed.events)).toEqual([
      ["status", null, "Queued"],
      ["status", "claimed", null],
    ]);
    // Told again without fields (the board forgets which tokens have beaten when it is evicted).
    await roomFor(env, taskId).progress(taskId, jobId, job.attempt, {});
    expect(await taskEvents(op, taskId)).toEqual(claimed);

    expect((await bridge.heartbeat(job, { stage: "probing" })).status).toBe(200);
    const probing = await taskEvents(op, taskId, claimed.state.last_seq);
    expect(story(probing.events)).toEqual([["progress", "claimed", null]]);
    expect(probing.state).toMatchObject({ status: "running", stage: "probing", progress: 0 });

    await outcomeOf(await bridge.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a heartbeat from an attempt since requeued is ignored, and a late requeue does not undo a newer attempt", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const [first, second] = [await makeBridge(), await makeBridge()];
    const stale = await first.claim(jobId);
    expect((await first.heartbeat(stale, { progress: 0.4, stage: "probing" })).status).toBe(200);
    const busy = { error_code: "gpu_busy", message: "Another process holds the GPU", retryable: true };
    expect(await outcomeOf(await first.fail(stale, busy))).toMatchObject({ status: "pending", attempt: 1 });
    await boardOf(jobId).flush();
    const requeued = await taskEvents(op, taskId);
    expect(requeued.state.status).toBe("pending");

    // Attempt 1's heartbeat passed the board just before the requeue, and reaches the room only now.
    await roomFor(env, taskId).progress(taskId, jobId, stale.attempt, { progress: 0.5, stage: "probing" });
    expect(await taskEvents(op, taskId)).toEqual(requeued);

    await waitUntilListed(second, jobId);
    const job = await second.claim(jobId);
    expect(job.attempt).toBe(2);
    expect((await second.heartbeat(job, { progress: 0.1, stage: "downloading" })).status).toBe(200);
    const running = await taskEvents(op, taskId);
    expect(running.state).toMatchObject({ status: "running", stage: "downloading", progress: 0.1 });

    await roomFor(env, taskId).progress(taskId, jobId, stale.attempt, { progress: 0.9, stage: "stale" });
    // The board's requeue of attempt 1 again (an outbox retry), arriving after attempt 2 started.
    const at = Date.now();
    const error = { code: busy.error_code, message: busy.message };
    await roomFor(env, taskId).applyJobEvents(taskId, [
      { type: "requeued", jobId, taskId, at, attempt: 1, retryAt: at, error },
    ]);
    expect(await taskEvents(op, taskId)).toEqual(running);

    await outcomeOf(await second.submit(job));
    await expectSettled(op, taskId, { status: "done", attempts: 2 });
  });

  it("watchers get live events even when D1 is down; the projection fails, and the board's retry redoes only it", async () => {
    const op = await makeOperator();
    const { taskId, jobId } = await dispatchFacts(op);
    const socket = await watch(op, taskId, 0);
    await socket.until(1);
    const bridge = await makeBridge();
    const job = await bridge.claim(jobId);
    const mend = await breakRoomD1(taskId);

    // The heartbeat's projection fails (logged: progress is best effort), yet the watcher hears of it.
    expect((await bridge.heartbeat(job, { progress: 0.5, stage: "probing" })).status).toBe(200);
    expect(story((await socket.until(3)).slice(1))).toEqual([
      ["status", "claimed", null],
      ["progress", "claimed", null],
    ]);
    await outcomeOf(await bridge.submit(job));
    expect((await socket.until(4))[3]).toMatchObject({ kind: "status", job_status: "completed", status: "done" });
    // The room refused the board's outbox, which kept the event: D1 still has the task as dispatched.
    await boardOf(jobId).flush();
    expect((await taskRecord(taskId)).status).toBe("pending");

    await mend();
    await boardOf(jobId).flush();
    expect(await taskRecord(taskId)).toMatchObject({ status: "done", stage: "done" });
    // The retry replayed no event.
    expect(socket.received).toHaveLength(4);
    expect((await taskEvents(op, taskId)).state.last_seq).toBe(4);
    socket.close();
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
  });

  it("a room not opened at dispatch learns its jobs from D1 and replays what already happened from seq 1", async () => {
    const op = await makeOperator();
    const taskId = crypto.randomUUID();
    await db().insert(tasks).values({ id: taskId, ownerPrincipalId: op.adminId, surface: "admin" });
    const failure = { code: "unsupported_codec", message: "ffprobe cannot read prores_raw" };
    const busy = { code: "gpu_busy", message: "Another process holds the GPU" };
    const rows = [
      { status: "pending", attempts: 0 },
      { status: "claimed", attempts: 2, errorCode: busy.code, errorMessage: busy.message },
      { status: "pending", attempts: 1, errorCode: busy.code, errorMessage: busy.message },
      { status: "completed", attempts: 1 },
      { status: "failed", attempts: 1, errorCode: failure.code, errorMessage: failure.message },
    ] as const;
    const ids = rows.map(() => crypto.randomUUID());
    await db()
      .insert(jobs)
      .values(
        rows.map((row, i) => ({
          id: ids[i] as string,
          taskId,
          jobType: "extract_facts",
          params: {},
          inputs: {},
          maxAttempts: 3,
          ...row,
        })),
      );
    const [, claimed, requeued] = ids as [string, string, string];

    const { state, events } = await roomFor(env, taskId).events(taskId, 0);
    expect(events.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(story(events.slice(0, 1))).toEqual([["status", null, "Queued"]]);
    const byJob = Object.fromEntries(events.slice(1).map((event) => [event.job_id, [event.job_status, event.message]]));
    expect(byJob).toEqual({
      [claimed]: ["claimed", null],
      [requeued]: ["pending", `Retrying after: ${busy.message}`],
      [ids[3] as string]: ["completed", null],
      [ids[4] as string]: ["failed", failure.message],
    });
    expect(state).toMatchObject({ status: "failed", error: failure, last_seq: 5 });

    // The attempts came from D1 too: the claimed job's earlier attempt, and the requeued one's, are over.
    await roomFor(env, taskId).progress(taskId, claimed, 1, { stage: "stale" });
    await roomFor(env, taskId).progress(taskId, requeued, 1, { stage: "stale" });
    expect((await roomFor(env, taskId).events(taskId, 0)).state.last_seq).toBe(5);
  });

  it("closing a watcher's socket never echoes a close code reserved for reporting (1005, 1006, 1015)", async () => {
    const sent: number[] = [];
    const socket = { close: (code: number) => sent.push(code) } as unknown as WebSocket;
    await runInDurableObject(env.TASK_ROOM.getByName(crypto.randomUUID()), (room) => {
      for (const code of [1000, 1001, 1005, 1006, 1015, 4000]) room.webSocketClose(socket, code);
    });
    expect(sent).toEqual([1000, 1001, 1000, 1000, 1000, 4000]);
  });
});
