/**
 * Every media handler end to end: wrangler dev (local D1/R2/DO/queues) and one
 * real GPU bridge; the operator uploads a real clip, dispatches each job type,
 * waits on the task's events, downloads the outputs the bridge uploaded
 * through the chunked API, and checks them with ffprobe.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalWorker, startLocalWorker } from "../../scripts/lib/local-worker";
import { type BridgeProcess, makeClip, Operator, startBridge, stopBridge, type TaskRecord } from "./harness";

let worker: LocalWorker;
let operator: Operator;
let bridge: BridgeProcess;
let source: string;
const dir = mkdtempSync(path.join(tmpdir(), "media-e2e-"));

beforeAll(async () => {
  worker = await startLocalWorker();
  operator = await Operator.signIn(worker);
  bridge = startBridge(worker, "e2e-media");
  const [, uploaded] = await Promise.all([bridge.waitFor("bridge.registered"), operator.upload(makeClip())]);
  source = uploaded;
}, 120_000);

afterAll(async () => {
  if (bridge) await stopBridge(bridge, "SIGKILL");
  await worker?.dispose();
});

interface Probed {
  streams: {
    codec_type: string;
    codec_name: string;
    width?: number;
    height?: number;
    pix_fmt?: string;
    nb_frames?: string;
    avg_frame_rate?: string;
  }[];
  format: { duration?: string };
}

function probe(file: string): Probed {
  const out = execFileSync("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", file]);
  return JSON.parse(out.toString()) as Probed;
}

/** Runs one job (on the clip unless other inputs are given) and returns its single output, downloaded. */
async function run(
  jobType: string,
  kind: string,
  params: Record<string, unknown> = {},
  inputs: Record<string, string> = { source },
) {
  const { taskId } = await operator.dispatch(jobType, inputs, params);
  const task: TaskRecord = await operator.finished(taskId, 90_000);
  expect(task.status, JSON.stringify(task)).toBe("done");
  const job = task.jobs[0];
  const output = job?.outputs.find((candidate) => candidate.kind === kind);
  expect(output, JSON.stringify(job)).toBeDefined();
  const file = path.join(dir, `${jobType}.${kind}`);
  const contentType = await operator.download(output?.url ?? "", file);
  return { file, contentType, facts: job?.result?.facts ?? {} };
}

describe("media handlers through a real bridge", () => {
  it("media.thumbnails@1: a JPEG of the clip, never upscaled", async () => {
    const { file, contentType, facts } = await run("make_thumbnail", "thumb");
    expect(contentType).toBe("image/jpeg");
    const [stream] = probe(file).streams;
    expect(stream).toMatchObject({ codec_name: "mjpeg", width: 320, height: 240 });
    expect(facts).toMatchObject({ width: 320, height: 240 });
  });

  it("media.proxies.video@1: H.264 yuv420p with AAC", async () => {
    const { file, contentType } = await run("proxy_video", "proxy_video");
    expect(contentType).toBe("video/mp4");
    const probed = probe(file);
    expect(probed.streams.find((s) => s.codec_type === "video")).toMatchObject({
      codec_name: "h264",
      pix_fmt: "yuv420p",
      width: 320,
      height: 240,
    });
    expect(probed.streams.find((s) => s.codec_type === "audio")?.codec_name).toBe("aac");
    expect(Math.abs(Number(probed.format.duration) - 2)).toBeLessThan(0.2);
  });

  it("media.proxies.audio@1: AAC audio only", async () => {
    const { file } = await run("proxy_audio", "proxy_audio");
    const probed = probe(file);
    expect(probed.streams.map((s) => s.codec_name)).toEqual(["aac"]);
  });

  it("audio.waveform@1: peaks JSON of the requested bucket count", async () => {
    const { file, contentType } = await run("waveform", "waveform", { buckets: 200 });
    expect(contentType).toBe("application/json");
    const waveform = JSON.parse(readFileSync(file, "utf8")) as { duration_ms: number; peaks: number[] };
    expect(waveform.peaks).toHaveLength(200);
    expect(Math.abs(waveform.duration_ms - 2000)).toBeLessThan(100);
    // lavfi sine has amplitude 1/8.
    expect(Math.max(...waveform.peaks)).toBeCloseTo(0.125, 1);
  });

  it("image.generate@1 (local provider): a PNG of the exact size, and it says it is not a model", async () => {
    const params = { prompt: "a lighthouse at dusk", seed: 7, width: 96, height: 64 };
    const { file, contentType, facts } = await run("generate_image", "image", params, {});
    expect(contentType).toBe("image/png");
    expect(probe(file).streams[0]).toMatchObject({ codec_name: "png", width: 96, height: 64 });
    expect(facts).toMatchObject({ is_model: false, provider: "local", seed: 7 });
  });

  it("video.generate@1 (local provider): exact frames and fps in the clip format", async () => {
    const params = { prompt: "waves", seed: 3, width: 96, height: 64, fps: 12, frames: 18 };
    const { file, facts } = await run("generate_video", "video", params, {});
    const video = probe(file).streams.find((s) => s.codec_type === "video");
    expect(video).toMatchObject({ codec_name: "h264", pix_fmt: "yuv420p", width: 96, height: 64, nb_frames: "18" });
    expect(video?.avg_frame_rate).toBe("12/1");
    expect(facts).toMatchObject({ is_model: false, frames: 18, fps: 12 });
  });

  it("video.compose@1: two clips and a title, stream-copied where untouched, decoding clean", async () => {
    const second = await operator.upload(makeClip());
    const params = {
      clips: ["clip_1", "clip_2"],
      overlays: [{ text: 'Title: 100% "quoted"', start_s: 0.5, end_s: 1.5 }],
    };
    const { file, facts } = await run("compose_video", "video", params, { clip_1: source, clip_2: second });
    const probed = probe(file);
    expect(Math.abs(Number(probed.format.duration) - 4)).toBeLessThan(0.2);
    expect(facts).toMatchObject({ width: 320, height: 240 });
    expect(Number(facts.reencoded_s)).toBeLessThan(4);
    const errors = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"], { encoding: "utf8" });
    expect(errors).toBe("");
  });

  it("speech.synthesize@1 (espeak-ng): a WAV of plausible length", async () => {
    const params = { text: "Media Edge speaks through a real bridge." };
    const { file, contentType, facts } = await run("synthesize_speech", "audio", params, {});
    expect(contentType).toBe("audio/wav");
    expect(probe(file).streams[0]?.codec_name).toBe("pcm_s16le");
    expect(Number(facts.duration_ms)).toBeGreaterThan(1000);
    expect(facts).toMatchObject({ provider: "local", is_model: false });
  });
});
