/**
 * `media.proxies.video@1` (job type proxy_video): a light MP4 to scrub and
 * preview in a browser. H.264 yuv420p no taller than max_height (never
 * upscaled), CRF ~23, a keyframe at most every 2 s, AAC when the source has
 * sound, index first (faststart).
 */
import path from "node:path";
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { clipAudioArgs, evenSize, MP4_ARGS } from "../media/clip-format";
import { runFfmpeg, verifyOutput } from "../media/encode";
import {
  assertFaststart,
  detectFfmpeg,
  evenAtMost,
  type H264Encoder,
  h264Args,
  h264Encoder,
  type ShownVideo,
  shownVideo,
  sourcePath,
} from "../media/encoders";
import { factsFromProbe, frameRate, probeFile } from "./ffprobe";
import { parseParams } from "./params";
import type { Handler } from "./types";

/** Longest distance between keyframes: what a seek in the proxy may have to decode. */
const KEYFRAME_INTERVAL_S = 2;
/** Frame rate assumed when the source states none (rare: some raw or broken streams). */
const FALLBACK_FPS = 25;
/** Audio priming and stream-end rounding make a re-encode's duration drift a little. */
const DURATION_TOLERANCE_MS = 500;

export const proxyVideoHandler: Handler = {
  capability: "media.proxies.video@1",
  jobType: "proxy_video",

  async detect(signal) {
    const tools = await detectFfmpeg(signal);
    if (!tools.available) return tools;
    const encoder = await h264Encoder(signal).catch(() => null);
    if (!encoder) return { available: false, detail: "ffmpeg has neither libx264 nor a working h264_nvenc" };
    return { available: true, detail: `${tools.detail}; H.264 encoder ${encoder}` };
  },

  async run(context) {
    const params = parseParams(JOB_TYPES.proxy_video.params, context);
    const source = sourcePath(context);
    context.progress({ fraction: 0, stage: "probing", message: "ffprobe" });
    const { probe } = await probeFile(source, context.signal);
    const video = shownVideo(probe);
    if (!video || video.coverArt) {
      throw new JobError("no_video", "the source has no video stream to make a proxy of", false);
    }
    const { facts: sourceFacts, warnings } = factsFromProbe(probe);
    const hasAudio = sourceFacts.audio_codec !== null;
    if (video.fps === null) warnings.push(`source frame rate unknown; proxy made at ${FALLBACK_FPS} fps`);

    const size = proxySize(video, params.max_height);
    const output = path.join(context.scratchDir, "proxy.mp4");
    const durationMs = sourceFacts.duration_ms;
    const encode = (encoder: H264Encoder) =>
      runFfmpeg(proxyArgs(source, output, video, size, hasAudio, encoder), {
        signal: context.signal,
        durationMs,
        onProgress: (fraction) =>
          context.progress({
            fraction: 0.05 + 0.85 * fraction,
            stage: "encoding",
            message: `${encoder} ${size.width}x${size.height}`,
          }),
      });

    let encoder = await h264Encoder(context.signal);
    if (!encoder) throw new JobError("tool_missing", "ffmpeg has neither libx264 nor a working h264_nvenc", true);
    const started = performance.now();
    try {
      await encode(encoder);
    } catch (error) {
      // NVENC can pass the test encode and still refuse a job (all sessions busy, odd input): libx264 always can.
      if (encoder !== "h264_nvenc" || !(error instanceof JobError) || !error.retryable) throw error;
      warnings.push(`h264_nvenc failed (${error.message}); encoded with libx264 instead`);
      encoder = "libx264";
      await encode(encoder);
    }
    const encodeMs = Math.round(performance.now() - started);

    context.progress({ fraction: 0.92, stage: "verifying", message: "ffprobe the proxy" });
    const checked = await verifyOutput(
      output,
      {
        video: { codec: "h264", pixFmt: "yuv420p", ...size },
        audio: hasAudio ? { codec: "aac" } : false,
        ...(durationMs === null ? {} : { durationMs, durationToleranceMs: DURATION_TOLERANCE_MS }),
      },
      context.signal,
    );
    await assertFaststart(output);
    const made = factsFromProbe(checked).facts;
    context.progress({ fraction: 1, stage: "verifying", message: "proxy verified" });
    return {
      facts: {
        ...size,
        fps: made.fps ?? video.fps ?? FALLBACK_FPS,
        duration_ms: made.duration_ms ?? durationMs ?? 0,
        video_codec: "h264",
        audio_codec: made.audio_codec,
        encoder,
      },
      warnings,
      metrics: { encode_ms: encodeMs },
      outputs: [{ kind: "proxy_video", path: output, contentType: "video/mp4" }],
    };
  },
};

/** Scaled down to max_height keeping the shown aspect, never up, both sides even. */
export function proxySize(video: Pick<ShownVideo, "width" | "height">, maxHeight: number) {
  const height = evenSize(Math.min(video.height, maxHeight));
  // From the height as rounded, so the aspect error is that of one rounding, not two.
  return { width: evenAtMost((video.width * height) / video.height, video.width), height };
}

function proxyArgs(
  source: string,
  output: string,
  video: ShownVideo,
  size: { width: number; height: number },
  hasAudio: boolean,
  encoder: H264Encoder,
): string[] {
  // Output at the source's own rate (constant, so a GOP counted in frames is a fixed time).
  const rate = video.rate ?? String(FALLBACK_FPS);
  const gop = Math.max(1, Math.floor((frameRate(rate) ?? FALLBACK_FPS) * KEYFRAME_INTERVAL_S));
  return [
    ...["-i", source, "-map", `0:${video.index}`],
    ...(hasAudio ? ["-map", "0:a:0", ...clipAudioArgs()] : ["-an"]),
    // setsar=1: the size above already shows anamorphic pixels as square ones.
    ...["-vf", `scale=${size.width}:${size.height},setsar=1`, "-r", rate],
    ...h264Args(encoder, gop),
    ...["-sn", "-dn", "-stats_period", "0.1"],
    ...MP4_ARGS,
    output,
  ];
}
