/**
 * The derivative handlers (thumbnail, video proxy, audio proxy, waveform) on
 * real media made by ffmpeg: outputs checked with ffprobe, facts against the
 * job types' schemas, progress, bad input, and abort killing ffmpeg.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { JOB_TYPES, type JobType } from "../../worker/contracts/job-types";
import { JobError } from "../src/errors";
import { proxyAudioHandler } from "../src/handlers/proxy-audio";
import { proxySize, proxyVideoHandler } from "../src/handlers/proxy-video";
import { thumbnailAtMs, thumbnailSize, thumbnailsHandler } from "../src/handlers/thumbnails";
import type { Handler, HandlerContext, ProgressUpdate } from "../src/handlers/types";
import { PeakReducer, waveformHandler } from "../src/handlers/waveform";
import { h264Encoder, moovBeforeMdat } from "../src/media/encoders";
import { makeGarbage } from "./helpers/clips";
import {
  makeLongAudio,
  makeMp3WithCover,
  makeQuarterTurned,
  makeSilenceThenTone,
  makeSurround,
  makeTestVideo,
} from "./helpers/derivative-clips";
import { newJob } from "./helpers/fake-api";
import { must } from "./helpers/must";

const run = promisify(execFile);

let dir = "";
const clips = {
  /** 4.5 s 320x240 25 fps + stereo AAC, source keyframes 10 s apart. */
  small: "",
  /** 2 s 1280x720 + AAC. */
  hd: "",
  /** 1 s 320x240, no audio. */
  silentVideo: "",
  /** 0.5 s 320x240 + AAC. */
  short: "",
  /** 20 s 640x360, no audio: an encode long enough to watch and to abort. */
  long: "",
  /** WAV: 1 s silence then 1 s of tone. */
  tone: "",
  surround: "",
  longAudio: "",
  /** The 1 s 320x240 clip, stored landscape but shown turned a quarter: 240x320. */
  portrait: "",
  coverMp3: "",
  garbage: "",
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "derivatives-test-"));
  [
    clips.small,
    clips.hd,
    clips.silentVideo,
    clips.short,
    clips.long,
    clips.tone,
    clips.surround,
    clips.longAudio,
    clips.coverMp3,
    clips.garbage,
  ] = await Promise.all([
    makeTestVideo(dir, "small.mp4", { width: 320, height: 240, seconds: 4.5, audio: true }),
    makeTestVideo(dir, "hd.mp4", { width: 1280, height: 720, seconds: 2, audio: true }),
    makeTestVideo(dir, "silent-video.mp4", { width: 320, height: 240, seconds: 1 }),
    makeTestVideo(dir, "short.mp4", { width: 320, height: 240, seconds: 0.5, audio: true }),
    makeTestVideo(dir, "long.mp4", { width: 640, height: 360, seconds: 20, gop: 500 }),
    makeSilenceThenTone(dir),
    makeSurround(dir),
    makeLongAudio(dir),
    makeMp3WithCover(dir),
    makeGarbage(dir),
  ]);
  clips.portrait = await makeQuarterTurned(dir, clips.silentVideo);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A context for `type` on `file`, in a scratch dir of its own, recording progress. */
async function contextFor(
  type: JobType,
  file: string,
  params: Record<string, unknown> = {},
  signal = new AbortController().signal,
) {
  const progress: ProgressUpdate[] = [];
  const scratchDir = await mkdtemp(path.join(dir, `${type}-`));
  const context: HandlerContext = {
    job: { ...newJob({}), job_type: type, required_capabilities: [...JOB_TYPES[type].capabilities], params },
    inputs: new Map([["source", { input: { name: "source", url: "", content_type: "", size_bytes: 0 }, path: file }]]),
    scratchDir,
    signal,
    progress: (update) => progress.push(update),
  };
  return { context, progress };
}

const HANDLERS = {
  make_thumbnail: thumbnailsHandler,
  proxy_video: proxyVideoHandler,
  proxy_audio: proxyAudioHandler,
  waveform: waveformHandler,
};
type Derivative = keyof typeof HANDLERS;
type FactsOf<T extends Derivative> = z.infer<(typeof JOB_TYPES)[T]["facts"]>;

/** Runs the handler of `type` on `file`; its facts must pass the job type's facts schema. */
async function runOn<T extends Derivative>(type: T, file: string, params: Record<string, unknown> = {}) {
  const { context, progress } = await contextFor(type, file, params);
  const result = await HANDLERS[type].run(context);
  const facts = JOB_TYPES[type].facts.parse(result.facts) as FactsOf<T>;
  const output = must(result.outputs?.[0], "an output");
  expect(result.outputs).toHaveLength(1);
  return { result, facts, output, progress };
}

async function failureOf(handler: Handler, file: string, params: Record<string, unknown> = {}) {
  const { context } = await contextFor(handler.jobType, file, params);
  const error = await handler.run(context).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JobError);
  return error as JobError;
}

interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  channels?: number;
  bit_rate?: string;
}

async function ffprobe(file: string): Promise<{ streams: ProbedStream[]; durationMs: number }> {
  const { stdout } = await run("ffprobe", ["-v", "error", "-of", "json", "-show_format", "-show_streams", file]);
  const parsed = JSON.parse(stdout) as { streams: ProbedStream[]; format: { duration?: string } };
  return { streams: parsed.streams, durationMs: Math.round(Number(parsed.format.duration) * 1000) };
}

async function keyframeTimes(file: string): Promise<number[]> {
  const args = ["-v", "error", "-select_streams", "v", "-skip_frame", "nokey", "-show_entries", "frame=pts_time"];
  const { stdout } = await run("ffprobe", [...args, "-of", "csv=p=0", file]);
  // One time per line; ffprobe adds a trailing comma (for side data) on some lines.
  return stdout
    .split("\n")
    .map((line) => line.split(",")[0]?.trim() ?? "")
    .filter((time) => time !== "")
    .map(Number);
}

/** Pids of live ffmpeg processes whose command line mentions `needle` (Linux /proc). */
function ffmpegPidsWith(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (path.basename(argv[0] ?? "") === "ffmpeg" && argv.includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone between readdir and read.
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `handler` on `file` and aborts at its first progress in `stage`, noting the ffmpeg processes alive then. */
async function abortMidway(handler: Handler, file: string, stage: string) {
  const controller = new AbortController();
  const { context } = await contextFor(handler.jobType, file, {}, controller.signal);
  const seen: number[] = [];
  const reason = new Error("lease lost (test)");
  const running = handler.run({
    ...context,
    progress: (update) => {
      if (update.stage !== stage || controller.signal.aborted) return;
      seen.push(...ffmpegPidsWith(file));
      controller.abort(reason);
    },
  });
  await expect(running).rejects.toBe(reason);
  return { seen, scratchDir: context.scratchDir };
}

function expectIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1] ?? 0);
}

describe("media.thumbnails@1", () => {
  it("detects ffmpeg and ffprobe", async () => {
    const detection = await thumbnailsHandler.detect();
    expect(detection).toMatchObject({
      available: true,
      detail: expect.stringMatching(/^ffmpeg version .*ffprobe version/),
    });
  });

  it("takes 480 px wide JPEG at 1 s from a 1280x720 video", async () => {
    const { facts, output } = await runOn("make_thumbnail", clips.hd);
    expect(facts).toEqual({ width: 480, height: 270, at_ms: 1000 });
    expect(output).toMatchObject({ kind: "thumb", contentType: "image/jpeg" });
    const { streams } = await ffprobe(output.path);
    expect(streams).toMatchObject([{ codec_type: "video", codec_name: "mjpeg", width: 480, height: 270 }]);
  });

  it("never upscales, and keeps the height even at an odd requested width", async () => {
    const { facts: natural } = await runOn("make_thumbnail", clips.small);
    expect(natural).toEqual({ width: 320, height: 240, at_ms: 1000 });
    const { facts, output } = await runOn("make_thumbnail", clips.small, { width: 101 });
    expect(facts).toEqual({ width: 101, height: 76, at_ms: 1000 });
    expect((await ffprobe(output.path)).streams[0]).toMatchObject({ codec_name: "mjpeg", width: 101, height: 76 });
  });

  it("takes the frame inside a clip shorter than 1 s", async () => {
    const { facts, output } = await runOn("make_thumbnail", clips.short);
    // The middle of the clip (its video stream lasts 13 frames, 520 ms).
    expect(facts.at_ms).toBe(260);
    expect((await stat(output.path)).size).toBeGreaterThan(0);
  });

  it("sizes by the picture as shown: a portrait phone video is tall", async () => {
    const { facts, output } = await runOn("make_thumbnail", clips.portrait, { width: 120 });
    expect(facts).toMatchObject({ width: 120, height: 160 });
    expect((await ffprobe(output.path)).streams[0]).toMatchObject({ width: 120, height: 160 });
  });

  it("takes an audio file's cover art, with a warning", async () => {
    const { facts, result } = await runOn("make_thumbnail", clips.coverMp3);
    expect(facts).toEqual({ width: 300, height: 200, at_ms: 0 });
    expect(result.warnings).toEqual(["no video stream; the thumbnail is the cover art"]);
  });

  it("chooses max(1 s, 10 %) and clamps inside short media", () => {
    expect(thumbnailAtMs(60_000, 25)).toBe(6000);
    expect(thumbnailAtMs(4500, 25)).toBe(1000);
    expect(thumbnailAtMs(1020, 25)).toBe(510);
    expect(thumbnailAtMs(500, 25)).toBe(250);
    expect(thumbnailAtMs(null, null)).toBe(0);
    expect(thumbnailSize({ width: 1080, height: 1920 }, 480)).toEqual({ width: 480, height: 854 });
  });

  it("fails garbage as unreadable_media and audio as no_video, neither retryable", async () => {
    expect(await failureOf(thumbnailsHandler, clips.garbage)).toMatchObject({
      code: "unreadable_media",
      retryable: false,
    });
    expect(await failureOf(thumbnailsHandler, clips.tone)).toMatchObject({ code: "no_video", retryable: false });
  });

  it("refuses bad params as invalid_params, not retryable", async () => {
    const error = await failureOf(thumbnailsHandler, clips.small, { width: 4 });
    expect(error).toMatchObject({ code: "invalid_params", retryable: false });
  });
});

describe("media.proxies.video@1", () => {
  it("detects an H.264 encoder, NVENC only where a test encode works", async () => {
    const detection = await proxyVideoHandler.detect();
    const encoder = await h264Encoder();
    expect(encoder).not.toBeNull();
    expect(detection).toMatchObject({ available: true, detail: expect.stringContaining(`H.264 encoder ${encoder}`) });
  });

  it("keeps a 320x240 source at 320x240 with AAC, keyframes ≤ 2 s apart, index first", async () => {
    const { facts, output, result } = await runOn("proxy_video", clips.small);
    expect(facts).toMatchObject({ width: 320, height: 240, fps: 25, video_codec: "h264", audio_codec: "aac" });
    expect(facts.encoder).toBe(await h264Encoder());
    expect(Math.abs(facts.duration_ms - 4500)).toBeLessThanOrEqual(150);
    expect(output).toMatchObject({ kind: "proxy_video", contentType: "video/mp4" });
    expect(result.warnings).toEqual([]);

    const probed = await ffprobe(output.path);
    expect(probed.streams).toMatchObject([
      { codec_type: "video", codec_name: "h264", pix_fmt: "yuv420p", width: 320, height: 240 },
      { codec_type: "audio", codec_name: "aac" },
    ]);
    // The source's keyframes are 10 s apart, so these are the proxy's own.
    const keyframes = await keyframeTimes(output.path);
    expect(keyframes.length).toBeGreaterThanOrEqual(3);
    expect(keyframes[0]).toBe(0);
    for (const [i, time] of keyframes.entries()) {
      const next = keyframes[i + 1] ?? probed.durationMs / 1000;
      expect(next - time).toBeLessThanOrEqual(2.001);
    }
    expect(await moovBeforeMdat(output.path)).toBe(true);
  });

  it("scales a 1280x720 source down to max_height, keeping the aspect with even sides", async () => {
    const { facts, output } = await runOn("proxy_video", clips.hd, { max_height: 480 });
    expect(facts).toMatchObject({ width: 854, height: 480, audio_codec: "aac" });
    expect((await ffprobe(output.path)).streams[0]).toMatchObject({ width: 854, height: 480, pix_fmt: "yuv420p" });
  });

  it("has no audio stream when the source has none", async () => {
    const { facts, output } = await runOn("proxy_video", clips.silentVideo);
    expect(facts.audio_codec).toBeNull();
    expect((await ffprobe(output.path)).streams.map((s) => s.codec_type)).toEqual(["video"]);
  });

  it("turns a portrait phone video upright", async () => {
    const { facts, output } = await runOn("proxy_video", clips.portrait);
    expect(facts).toMatchObject({ width: 240, height: 320 });
    expect((await ffprobe(output.path)).streams[0]).toMatchObject({ width: 240, height: 320 });
  });

  it("reports progress as ffmpeg advances", async () => {
    const { progress } = await runOn("proxy_video", clips.long);
    const encoding = progress.filter((p) => p.stage === "encoding").map((p) => p.fraction);
    expect(encoding.filter((f) => f > 0.05 && f < 0.9).length).toBeGreaterThanOrEqual(3);
    expectIncreasing(progress.map((p) => p.fraction));
    expect(progress.map((p) => p.stage)).toEqual(expect.arrayContaining(["probing", "encoding", "verifying"]));
    expect(progress.at(-1)?.fraction).toBe(1);
  });

  it("kills ffmpeg and rejects when the job is aborted", async () => {
    const { seen, scratchDir } = await abortMidway(proxyVideoHandler, clips.long, "encoding");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter(alive)).toEqual([]);
    // Stopped early: the 20 s encode did not run to its end.
    const partial = await ffprobe(path.join(scratchDir, "proxy.mp4")).catch(() => null);
    expect(partial?.durationMs ?? 0).toBeLessThan(15_000);
  });

  it("sizes proxies by shown height, never upscaling, always even", () => {
    expect(proxySize({ width: 1920, height: 1080 }, 720)).toEqual({ width: 1280, height: 720 });
    expect(proxySize({ width: 1280, height: 720 }, 720)).toEqual({ width: 1280, height: 720 });
    expect(proxySize({ width: 320, height: 240 }, 720)).toEqual({ width: 320, height: 240 });
    expect(proxySize({ width: 1080, height: 1920 }, 720)).toEqual({ width: 406, height: 720 });
    expect(proxySize({ width: 1920, height: 1080 }, 145)).toEqual({ width: 256, height: 144 });
    expect(proxySize({ width: 321, height: 241 }, 720)).toEqual({ width: 320, height: 240 });
  });

  it("fails garbage as unreadable_media and audio as no_video, neither retryable", async () => {
    expect(await failureOf(proxyVideoHandler, clips.garbage)).toMatchObject({
      code: "unreadable_media",
      retryable: false,
    });
    expect(await failureOf(proxyVideoHandler, clips.tone)).toMatchObject({ code: "no_video", retryable: false });
    // Cover art is a picture, not video to make a proxy of.
    expect(await failureOf(proxyVideoHandler, clips.coverMp3)).toMatchObject({ code: "no_video", retryable: false });
  });

  it("tells an index-first MP4 from one with the index at the end", async () => {
    const plain = path.join(dir, "not-faststart.mp4");
    await run("ffmpeg", ["-v", "error", "-y", "-i", clips.silentVideo, "-c", "copy", plain]);
    expect(await moovBeforeMdat(plain)).toBe(false);
    expect(await moovBeforeMdat(clips.garbage)).toBe(false);
  });
});

describe("media.proxies.audio@1", () => {
  it("makes a stereo AAC m4a of a video's sound, audio only, index first", async () => {
    const { facts, output } = await runOn("proxy_audio", clips.small);
    expect(facts).toMatchObject({ audio_codec: "aac", channels: 2 });
    expect(Math.abs(facts.duration_ms - 4500)).toBeLessThanOrEqual(150);
    expect(output).toMatchObject({ kind: "proxy_audio", contentType: "audio/mp4" });
    const probed = await ffprobe(output.path);
    expect(probed.streams).toMatchObject([{ codec_type: "audio", codec_name: "aac", channels: 2 }]);
    expect(await moovBeforeMdat(output.path)).toBe(true);
  });

  it("keeps mono mono at the asked bitrate", async () => {
    const { facts, output } = await runOn("proxy_audio", clips.tone, { bitrate_kbps: 64 });
    expect(facts).toMatchObject({ audio_codec: "aac", channels: 1 });
    expect(Math.abs(facts.duration_ms - 2000)).toBeLessThanOrEqual(150);
    const bitRate = Number((await ffprobe(output.path)).streams[0]?.bit_rate);
    expect(bitRate).toBeGreaterThan(32_000);
    expect(bitRate).toBeLessThan(96_000);
  });

  it("folds 5.1 to stereo", async () => {
    const { facts } = await runOn("proxy_audio", clips.surround);
    expect(facts.channels).toBe(2);
  });

  it("fails video without sound as no_audio and garbage as unreadable_media, neither retryable", async () => {
    expect(await failureOf(proxyAudioHandler, clips.silentVideo)).toMatchObject({ code: "no_audio", retryable: false });
    expect(await failureOf(proxyAudioHandler, clips.garbage)).toMatchObject({
      code: "unreadable_media",
      retryable: false,
    });
  });
});

describe("audio.waveform@1", () => {
  const waveformJson = async (file: string) =>
    JSON.parse(await readFile(file, "utf8")) as { duration_ms: number; buckets: number; peaks: number[] };

  it("writes peaks that are ≈ 0 over silence and high over a tone", async () => {
    const { facts, output } = await runOn("waveform", clips.tone);
    expect(output).toMatchObject({ kind: "waveform", contentType: "application/json" });
    const waveform = await waveformJson(output.path);
    expect(Object.keys(waveform)).toEqual(["duration_ms", "buckets", "peaks"]);
    expect(waveform).toMatchObject({ buckets: 1000, duration_ms: facts.duration_ms });
    expect(facts.buckets).toBe(1000);
    expect(Math.abs(waveform.duration_ms - 2000)).toBeLessThanOrEqual(20);
    expect(waveform.peaks).toHaveLength(1000);
    // Leave a margin at the step: resampling rings a little around it.
    expect(Math.max(...waveform.peaks.slice(0, 480))).toBeLessThan(0.01);
    expect(Math.min(...waveform.peaks.slice(520))).toBeGreaterThan(0.3);
    expect(Math.max(...waveform.peaks)).toBeLessThanOrEqual(0.81);
    for (const peak of waveform.peaks) expect(peak).toBe(Math.round(peak * 10_000) / 10_000);
  });

  it("gives exactly the asked number of buckets for audio shorter than that", async () => {
    const { output } = await runOn("waveform", clips.short, { buckets: 10_000 });
    const waveform = await waveformJson(output.path);
    expect(waveform.peaks).toHaveLength(10_000);
    expect(Math.abs(waveform.duration_ms - 500)).toBeLessThanOrEqual(50);
    // About 4000 samples over 10 000 buckets: each sample's peak is repeated over 2 or 3 buckets.
    const changes = waveform.peaks.filter((peak, i) => i > 0 && peak !== waveform.peaks[i - 1]).length;
    expect(changes).toBeGreaterThan(3000);
    expect(changes).toBeLessThan(4500);
    // lavfi's sine has amplitude 1/8, and folding stereo to mono lowers it further.
    expect(Math.max(...waveform.peaks)).toBeGreaterThan(0.05);
    expect(waveform.peaks.filter((peak) => peak > 0).length).toBeGreaterThan(9900);
  });

  it("reports progress as decoding advances", async () => {
    const { progress, facts } = await runOn("waveform", clips.longAudio, { buckets: 100 });
    expect(facts).toEqual({ duration_ms: 600_000, buckets: 100 });
    const decoding = progress.filter((p) => p.stage === "decoding");
    expect(decoding.length).toBeGreaterThanOrEqual(10);
    expectIncreasing(progress.map((p) => p.fraction));
  });

  it("kills ffmpeg and rejects when the job is aborted", async () => {
    const { seen } = await abortMidway(waveformHandler, clips.longAudio, "decoding");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter(alive)).toEqual([]);
  });

  it("fails video without sound as no_audio and garbage as unreadable_media, neither retryable", async () => {
    expect(await failureOf(waveformHandler, clips.silentVideo)).toMatchObject({ code: "no_audio", retryable: false });
    expect(await failureOf(waveformHandler, clips.garbage)).toMatchObject({
      code: "unreadable_media",
      retryable: false,
    });
  });
});

describe("PeakReducer", () => {
  const pcm = (samples: number[]) => {
    const buffer = Buffer.alloc(samples.length * 2);
    for (const [i, sample] of samples.entries()) buffer.writeInt16LE(sample, i * 2);
    return buffer;
  };

  it("reassembles samples split across chunks at odd bytes", () => {
    const reducer = new PeakReducer(2);
    const bytes = pcm([100, -32768, 5, -16384]);
    for (const part of [bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4, 7), bytes.subarray(7)]) {
      reducer.add(part);
    }
    expect(reducer.samples).toBe(4);
    expect(reducer.peaks()).toEqual([1, 0.5]);
  });

  it("puts a spike in its bucket after blocks were merged many times", () => {
    const reducer = new PeakReducer(10);
    const samples = new Array<number>(100_000).fill(0);
    samples[73_500] = 16_384;
    reducer.add(pcm(samples));
    expect(reducer.peaks()).toEqual([0, 0, 0, 0, 0, 0, 0, 0.5, 0, 0]);
  });

  it("stretches fewer samples than buckets, and gives zeros for none", () => {
    const short = new PeakReducer(10);
    short.add(pcm([3277, -6554]));
    expect(short.peaks()).toEqual([0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2]);
    expect(new PeakReducer(10).peaks()).toEqual(new Array(10).fill(0));
  });
});
