/**
 * The TaskRoom: a task's ordered event log (seq), streamed over a WebSocket
 * (backlog from ?after, then live), fed by heartbeats' progress; progress
 * after the job finished is ignored; and the D1 task row is written at
 * transitions (status or stage changes), never on every progress tick.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskEvent } from "../../durable-objects/task-room";
import { roomFor } from "../../worker/core/jobs/boards";
import { buildRequest, expect003 } from "../helpers/http";
import {
  dispatchFacts,
  expectSettled,
  makeBridge,
  makeOperator,
  type Operator,
  outcomeOf,
  taskEvents,
  taskRecord,
  waitForTask,
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
    await roomFor(env, taskId).progress(taskId, jobId, { progress: 0.9, stage: "late" });

    expect(await taskEvents(op, taskId)).toEqual(before);
    expect((await taskRecord(taskId)).stage).toBe("done");
    await expectSettled(op, taskId, { status: "done", attempts: 1 });
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
});
