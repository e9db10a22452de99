/**
 * media.facts@1 on real media made by ffmpeg, the ffprobe→facts mapping's
 * edge cases, and the handler end to end through the runner (download,
 * probe, submit or fail).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { mediaFactsSchema } from "../../worker/contracts/job-types";
import { JobError } from "../src/errors";
import { factsFromProbe, frameRate, probeSchema } from "../src/handlers/ffprobe";
import { mediaFactsHandler } from "../src/handlers/media-facts";
import type { HandlerContext, ProgressUpdate } from "../src/handlers/types";
import { startBridge } from "./helpers/bridge";
import { hasFfmpeg, makeAudioClip, makeGarbage, makeVideoClip } from "./helpers/clips";
import { FakeAgentApi, newJob } from "./helpers/fake-api";
import { must } from "./helpers/must";

const ffmpegAvailable = await hasFfmpeg();
let dir = "";
const clips = { video: "", audio: "", garbage: "" };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "media-facts-test-"));
  if (!ffmpegAvailable) return;
  [clips.video, clips.audio, clips.garbage] = await Promise.all([
    makeVideoClip(dir),
    makeAudioClip(dir),
    makeGarbage(dir),
  ]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function contextFor(file: string, progress: ProgressUpdate[] = []): HandlerContext {
  return {
    job: newJob({}),
    inputs: new Map([["source", { input: { name: "source", url: "", content_type: "", size_bytes: 0 }, path: file }]]),
    scratchDir: dir,
    signal: new AbortController().signal,
    progress: (update) => progress.push(update),
  };
}

describe.skipIf(!ffmpegAvailable)("media.facts@1 on real files", () => {
  it("detects ffprobe", async () => {
    const detection = await mediaFactsHandler.detect();
    expect(detection.available).toBe(true);
    expect(detection.detail).toMatch(/^ffprobe version/);
  });

  it("reports a 2 s 320x240 25 fps H.264 + AAC MP4", async () => {
    const progress: ProgressUpdate[] = [];
    const result = await mediaFactsHandler.run(contextFor(clips.video, progress));
    const facts = mediaFactsSchema.parse(result.facts);
    expect(facts).toMatchObject({
      media_format: "mov,mp4,m4a,3gp,3g2,mj2",
      video_codec: "h264",
      audio_codec: "aac",
      width: 320,
      height: 240,
      fps: 25,
    });
    expect(Math.abs((facts.duration_ms ?? 0) - 2000)).toBeLessThanOrEqual(100);
    expect(result.warnings).toEqual([]);
    expect(result.metrics?.probe_ms).toBeTypeOf("number");
    expect(progress.map((p) => p.stage)).toContain("probing");
  });

  it("reports an audio-only file with nulls for the video facts", async () => {
    const result = await mediaFactsHandler.run(contextFor(clips.audio));
    const facts = mediaFactsSchema.parse(result.facts);
    expect(facts).toMatchObject({ media_format: "mp3", audio_codec: "mp3", video_codec: null });
    expect(facts).toMatchObject({ width: null, height: null, fps: null });
    expect(Math.abs((facts.duration_ms ?? 0) - 1500)).toBeLessThanOrEqual(100);
  });

  it("rejects garbage as unreadable_media, not retryable", async () => {
    const error = await mediaFactsHandler.run(contextFor(clips.garbage)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobError);
    expect(error).toMatchObject({ code: "unreadable_media", retryable: false });
  });
});

describe("facts from ffprobe output", () => {
  it("ignores cover art, falls back to r_frame_rate and to stream durations", () => {
    const probe = probeSchema.parse({
      format: { format_name: "mov,mp4,m4a,3gp,3g2,mj2" },
      streams: [
        { codec_type: "video", codec_name: "mjpeg", width: 600, height: 600, disposition: { attached_pic: 1 } },
        {
          codec_type: "video",
          codec_name: "hevc",
          width: 1920,
          height: 1080,
          avg_frame_rate: "0/0",
          r_frame_rate: "30000/1001",
          duration: "3.5",
        },
        { codec_type: "audio", codec_name: "opus", duration: "3.52" },
      ],
    });
    const { facts, warnings } = factsFromProbe(probe);
    expect(facts).toEqual({
      duration_ms: 3520,
      media_format: "mov,mp4,m4a,3gp,3g2,mj2",
      video_codec: "hevc",
      audio_codec: "opus",
      width: 1920,
      height: 1080,
      fps: 29.97,
    });
    expect(warnings).toEqual([]);
  });

  it("uses nulls and warnings where ffprobe knows nothing", () => {
    const { facts, warnings } = factsFromProbe(probeSchema.parse({ format: {}, streams: [{ codec_type: "data" }] }));
    expect(mediaFactsSchema.parse(facts)).toEqual({
      duration_ms: null,
      media_format: null,
      video_codec: null,
      audio_codec: null,
      width: null,
      height: null,
      fps: null,
    });
    expect(warnings).toEqual(["no audio or video stream", "duration unknown"]);
  });

  it("parses frame rates to three decimals", () => {
    expect(frameRate("25/1")).toBe(25);
    expect(frameRate("24000/1001")).toBe(23.976);
    expect(frameRate("0/0")).toBeNull();
    expect(frameRate("abc")).toBeNull();
    expect(frameRate(undefined)).toBeNull();
  });
});

describe.skipIf(!ffmpegAvailable)("media.facts@1 through the runner", () => {
  const submitted = z.object({
    result: z.object({ facts: mediaFactsSchema, metrics: z.object({ probe_ms: z.number() }) }),
  });

  it("downloads the input with the lease, probes it and submits its facts", async () => {
    const api = await FakeAgentApi.start();
    const bridge = await startBridge(api.url, mediaFactsHandler);
    try {
      const job = api.addJob({ source: await readFile(clips.video) });
      await bridge.log.waitFor("job.submitted", (e) => e.job_id === job.job_id);
      const download = must(api.of("input")[0]);
      expect(download.headers["x-lock-token"]).toBe(api.job(job.job_id).lockToken);
      const body = submitted.parse(must(api.of("submit")[0]).body);
      expect(body.result.facts).toMatchObject({ video_codec: "h264", width: 320, height: 240, fps: 25 });
      const stages = bridge.log.all("job.progress").map((e) => e.stage);
      expect(stages).toEqual(expect.arrayContaining(["downloading", "probing", "submitting"]));
    } finally {
      await bridge.dispose();
      await api.close();
    }
  });

  it("fails unreadable media as unreadable_media, not retryable", async () => {
    const api = await FakeAgentApi.start();
    const bridge = await startBridge(api.url, mediaFactsHandler);
    try {
      const job = api.addJob({ source: await readFile(clips.garbage) });
      const failed = await bridge.log.waitFor("job.failed", (e) => e.job_id === job.job_id);
      expect(failed).toMatchObject({ error_code: "unreadable_media", retryable: false, reported: true });
      expect(api.job(job.job_id).job.status).toBe("failed");
      expect(api.of("submit")).toHaveLength(0);
    } finally {
      await bridge.dispose();
      await api.close();
    }
  });

  it("fails a job whose input is gone (404) as input_missing, not retryable", async () => {
    const api = await FakeAgentApi.start();
    api.override("input", () => ({
      status: 404,
      body: { code: "NOT_FOUND", message: "gone", retryable: false, correlation_id: "x" },
    }));
    const bridge = await startBridge(api.url, mediaFactsHandler);
    try {
      const job = api.addJob();
      const failed = await bridge.log.waitFor("job.failed", (e) => e.job_id === job.job_id);
      expect(failed).toMatchObject({ error_code: "input_missing", retryable: false });
    } finally {
      await bridge.dispose();
      await api.close();
    }
  });
});
