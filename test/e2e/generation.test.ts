/**
 * Contract 000's generation end to end: wrangler dev and one real GPU bridge
 * (local provider), driven only through the public routes with the demo API
 * key. Images and videos go from POST /generate through their status to
 * files checked with ffprobe, into the gallery and out of it again.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalWorker, startLocalWorker } from "../../scripts/lib/local-worker";
import { type BridgeProcess, startBridge, stopBridge } from "./harness";

let worker: LocalWorker;
let bridge: BridgeProcess;
const dir = mkdtempSync(path.join(tmpdir(), "generation-e2e-"));

beforeAll(async () => {
  worker = await startLocalWorker();
  bridge = startBridge(worker, "e2e-generation");
  await bridge.waitFor("bridge.registered");
}, 120_000);

afterAll(async () => {
  if (bridge) await stopBridge(bridge, "SIGKILL");
  await worker?.dispose();
});

function api(pathname: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("x-api-key", worker.creds.api_key);
  return fetch(`${worker.url}${pathname}`, { ...init, headers });
}

async function generate(body: Record<string, unknown>): Promise<string> {
  // The bridge may not have polled its boards yet right after it registered: 503 until it has.
  for (let tries = 0; ; tries++) {
    const response = await api("/generate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status === 503 && tries < 40) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    expect(response.status, text).toBe(200);
    return (JSON.parse(text) as { task_id: string }).task_id;
  }
}

interface Status {
  status: string;
  progress: number;
  stage: string | null;
  stage_detail: string | null;
  error_msg: string | null;
  result_url: string | null;
  preview_url: string | null;
}

/** Polls /status as the original client does (faster), returning every distinct status seen and the last. */
async function settle(taskId: string, timeoutMs = 60_000): Promise<{ seen: Status[]; last: Status }> {
  const seen: Status[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await api(`/status/${taskId}`);
    expect(response.status).toBe(200);
    const status = (await response.json()) as Status;
    const previous = seen.at(-1);
    if (!previous || previous.status !== status.status || previous.progress !== status.progress) seen.push(status);
    if (status.status === "done" || status.status === "failed") return { seen, last: status };
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function download(url: string, name: string): Promise<{ file: string; contentType: string }> {
  const response = await api(url);
  expect(response.status, url).toBe(200);
  const file = path.join(dir, name);
  writeFileSync(file, new Uint8Array(await response.arrayBuffer()));
  return { file, contentType: response.headers.get("content-type") ?? "" };
}

interface Stream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  nb_frames?: string;
  avg_frame_rate?: string;
}

function streams(file: string): Stream[] {
  const out = execFileSync("ffprobe", ["-v", "error", "-print_format", "json", "-show_streams", file]);
  return (JSON.parse(out.toString()) as { streams: Stream[] }).streams;
}

/** A real PNG made by ffmpeg, as a data URI. */
function pngDataUri(): string {
  const file = path.join(dir, "reference.png");
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "smptebars=s=320x240", "-frames:v", "1", file]);
  return `data:image/png;base64,${readFileSync(file).toString("base64")}`;
}

describe("generation through a real bridge", () => {
  it("image txt2img: pending → processing → done, a PNG of the size asked, a JPEG preview, in the gallery, then deleted", async () => {
    const taskId = await generate({
      model: "flux",
      type: "image",
      mode: "txt2img",
      prompt: "a lighthouse",
      width: 320,
      height: 256,
    });
    const { seen, last } = await settle(taskId);
    expect(last, JSON.stringify(seen)).toMatchObject({
      status: "done",
      progress: 100,
      stage_detail: "ok:320x256",
      result_url: `/results/${taskId}`,
      preview_url: `/preview/${taskId}`,
    });
    // Progress only grows, and every status is one of the contract's.
    const progress = seen.map((status) => status.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    for (const status of seen) expect(["pending", "processing", "done"]).toContain(status.status);
    // The whole story, even the steps a poll was too slow to see: queued, started by the bridge, done.
    const events = (await (await api(`/status/${taskId}/events`)).json()) as {
      events: { status: string; stage: string | null }[];
    };
    const statuses = events.events.map((event) => event.status).filter((s, i, all) => s !== all[i - 1]);
    expect(statuses).toEqual(["pending", "running", "done"]);
    expect(events.events[0]?.stage).toBe("queued");

    const result = await download(`/results/${taskId}`, "image.png");
    expect(result.contentType).toBe("image/png");
    expect(streams(result.file)[0]).toMatchObject({ codec_name: "png", width: 320, height: 256 });
    const preview = await download(`/preview/${taskId}`, "image-preview.jpg");
    expect(preview.contentType).toBe("image/jpeg");
    expect(streams(preview.file)[0]).toMatchObject({ codec_name: "mjpeg", width: 320, height: 256 });

    const gallery = (await (await api("/gallery")).json()) as { task_id: string; width: number; height: number }[];
    expect(gallery.find((item) => item.task_id === taskId)).toMatchObject({ width: 320, height: 256 });

    expect((await api(`/gallery/${taskId}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/status/${taskId}`)).status).toBe(404);
    expect((await api(`/results/${taskId}`)).status).toBe(404);
    const after = (await (await api("/gallery")).json()) as { task_id: string }[];
    expect(after.map((item) => item.task_id)).not.toContain(taskId);
  });

  it("image img2img from a data URI: deleting it makes its stored reference 410", async () => {
    const taskId = await generate({
      model: "pony",
      type: "image",
      mode: "img2img",
      prompt: "bars",
      width: 256,
      height: 256,
      reference_image: pngDataUri(),
    });
    expect((await settle(taskId)).last.status).toBe("done");
    const gallery = (await (await api("/gallery")).json()) as {
      task_id: string;
      parameters: { reference_image: string };
    }[];
    const reference = gallery.find((item) => item.task_id === taskId)?.parameters.reference_image;
    expect((await api(`/artifacts/${reference}`)).status).toBe(200);
    expect((await api(`/gallery/${taskId}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/artifacts/${reference}`)).status).toBe(410);
    expect((await api(`/preview/${taskId}`)).status).toBe(404);
  });

  it.each([
    ["t2v (phr00t by its alias)", { model: "wan-remix", mode: "t2v" }],
    ["i2v", { model: "phr00t", mode: "i2v", reference_image: "REFERENCE" }],
    [
      "arbitrary_frame (anisora)",
      { model: "anisora", mode: "arbitrary_frame", arbitrary_frames: [{ frame_index: 4, image: "REFERENCE" }] },
    ],
  ])("video %s: an mp4 with the frames and fps asked, and its first frame as the preview", async (_name, extra) => {
    const body: Record<string, unknown> = {
      type: "video",
      prompt: "waves",
      width: 256,
      height: 320,
      num_frames: 9,
      fps: 8,
      ...extra,
    };
    const uri = pngDataUri();
    if (body.reference_image) body.reference_image = uri;
    if (Array.isArray(body.arbitrary_frames)) body.arbitrary_frames = [{ frame_index: 4, image: uri }];
    const taskId = await generate(body);
    const { last } = await settle(taskId);
    expect(last).toMatchObject({ status: "done", stage_detail: "ok" });
    const result = await download(`/results/${taskId}`, `${taskId}.mp4`);
    expect(result.contentType).toBe("video/mp4");
    const video = streams(result.file).find((stream) => stream.codec_type === "video");
    expect(video).toMatchObject({ codec_name: "h264", width: 256, height: 320, nb_frames: "9", avg_frame_rate: "8/1" });
    // Seekable: a <video> tag asks for ranges.
    const range = await api(`/results/${taskId}`, { headers: { range: "bytes=0-99" } });
    expect(range.status).toBe(206);
    await range.arrayBuffer();
    const preview = await download(`/preview/${taskId}`, `${taskId}.jpg`);
    expect(streams(preview.file)[0]).toMatchObject({ codec_name: "mjpeg", width: 256, height: 320 });
  });
});
