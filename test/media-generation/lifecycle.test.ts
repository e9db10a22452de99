/**
 * A generation from POST /generate to the gallery through a simulated bridge:
 * pending → processing (with the bridge's progress) → done, the result and its
 * preview streamed with Range, the record (canonical model, label, seed).
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskEvent } from "../../durable-objects/task-room";
import {
  claimGeneration,
  finishImage,
  IMAGE,
  liveBridge,
  makeClient,
  readStatus,
  started,
  waitForStatus,
} from "../helpers/generation";
import { buildRequest } from "../helpers/http";

describe("a generation's life", () => {
  it("is pending, then processing with the bridge's progress, then done with its result and preview", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    const taskId = await started(client, { ...IMAGE, seed: 42 });

    const pending = await readStatus(client, taskId);
    expect(pending).toMatchObject({
      task_id: taskId,
      status: "pending",
      progress: 0,
      model: "flux",
      label: "flux",
      seed: 42,
      result_url: null,
      preview_url: null,
      error_msg: null,
    });

    const job = await claimGeneration(bridge, taskId);
    expect(job.params).toMatchObject({ prompt: "a lighthouse", seed: 42, width: 256, height: 256, provider: "local" });
    const beat = await bridge.heartbeat(job, { progress: 0.35, stage: "rendering", message: "drawing" });
    expect(beat.status, await beat.clone().text()).toBe(200);
    expect(await readStatus(client, taskId)).toMatchObject({ status: "processing", progress: 35, stage: "rendering" });

    const bytes = await finishImage(bridge, job);
    const done = await waitForStatus(client, taskId, "done");
    expect(done).toMatchObject({
      progress: 100,
      stage: "completed",
      stage_detail: "ok:256x256",
      result_url: `/results/${taskId}`,
      preview_url: `/preview/${taskId}`,
    });

    const result = await client.get(`/results/${taskId}`);
    expect(result.status).toBe(200);
    expect(result.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await result.arrayBuffer())).toEqual(bytes);
    const range = await client.get(`/results/${taskId}`, { headers: { range: "bytes=0-9" } });
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe(`bytes 0-9/${bytes.byteLength}`);
    await range.arrayBuffer();
    const preview = await client.get(`/preview/${taskId}`);
    expect(preview.status).toBe(200);
    expect(preview.headers.get("content-type")).toBe("image/jpeg");
    await preview.arrayBuffer();
  });

  it("streams its progress over a WebSocket (cookie-less browsers use ?api_key=), and as JSON events", async () => {
    const client = await makeClient();
    const bridge = await liveBridge("image");
    const taskId = await started(client);
    const response = await SELF.fetch(
      buildRequest(`/status/${taskId}/events?api_key=${client.key}`, { headers: { upgrade: "websocket" } }),
    );
    expect(response.status).toBe(101);
    const socket = response.webSocket;
    if (!socket) throw new Error("no WebSocket in the 101 response");
    const received: TaskEvent[] = [];
    const finished = new Promise<void>((resolve) => {
      socket.addEventListener("message", (message) => {
        const event = JSON.parse(String(message.data)) as TaskEvent;
        received.push(event);
        if (event.status === "done") resolve();
      });
    });
    socket.accept();

    const job = await claimGeneration(bridge, taskId);
    await bridge.heartbeat(job, { progress: 0.5, stage: "rendering" });
    await finishImage(bridge, job);
    await finished;
    socket.close(1000, "done");
    expect(received.map((event) => event.seq)).toEqual([...received.map((event) => event.seq)].sort((a, b) => a - b));
    expect(received[0]?.stage).toBe("queued");
    expect(received.some((event) => event.stage === "rendering" && event.progress === 0.5)).toBe(true);
    expect(received.at(-1)).toMatchObject({ status: "done", progress: 1 });

    const json = await client.get(`/status/${taskId}/events?after=0`);
    expect(json.status).toBe(200);
    const body = (await json.json()) as { state: { status: string }; events: TaskEvent[] };
    expect(body.state.status).toBe("done");
    expect(body.events.length).toBeGreaterThanOrEqual(received.length);
  });
});
