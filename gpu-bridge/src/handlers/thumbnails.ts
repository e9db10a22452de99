/**
 * `media.thumbnails@1` (job type make_thumbnail): one JPEG, `width` wide
 * (never wider than the picture), from max(1 s, 10 % of the duration): past
 * the first second, where many videos open on black or a fade. An audio file
 * with cover art gets the cover art.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { runFfmpeg, verifyOutput } from "../media/encode";
import { detectFfmpeg, evenAtMost, type ShownVideo, shownVideo, sourcePath } from "../media/encoders";
import { probeFile } from "./ffprobe";
import { parseParams } from "./params";
import type { Handler } from "./types";

export const thumbnailsHandler: Handler = {
  capability: "media.thumbnails@1",
  jobType: "make_thumbnail",

  detect: detectFfmpeg,

  async run(context) {
    const params = parseParams(JOB_TYPES.make_thumbnail.params, context);
    const source = sourcePath(context);
    context.progress({ fraction: 0, stage: "probing", message: "ffprobe" });
    const { probe } = await probeFile(source, context.signal);
    const video = shownVideo(probe);
    if (!video) throw new JobError("no_video", "the source has no video stream to take a thumbnail from", false);
    const formatSeconds = Number(probe.format?.duration);
    const durationMs = video.durationMs ?? (formatSeconds > 0 ? Math.round(formatSeconds * 1000) : null);

    const size = thumbnailSize(video, params.width);
    const output = path.join(context.scratchDir, "thumb.jpg");
    const warnings = video.coverArt ? ["no video stream; the thumbnail is the cover art"] : [];
    let atMs = video.coverArt ? 0 : thumbnailAtMs(durationMs, video.fps);
    context.progress({ fraction: 0.3, stage: "extracting", message: `frame at ${atMs} ms` });
    await grabFrame(source, output, video, size, atMs, context.signal);
    if (atMs > 0 && !(await nonEmpty(output))) {
      // The stated duration can overshoot the last frame (video shorter than its audio, a wrong header).
      warnings.push(`no frame at ${atMs} ms; took the first frame instead`);
      atMs = 0;
      await grabFrame(source, output, video, size, atMs, context.signal);
    }
    if (!(await nonEmpty(output))) throw new JobError("no_frame", "ffmpeg decoded no frame from the video", false);

    context.progress({ fraction: 0.9, stage: "verifying", message: "ffprobe the JPEG" });
    await verifyOutput(output, { video: { codec: "mjpeg", ...size } }, context.signal);
    context.progress({ fraction: 1, stage: "verifying", message: "thumbnail verified" });
    return {
      facts: { ...size, at_ms: atMs },
      warnings,
      outputs: [{ kind: "thumb", path: output, contentType: "image/jpeg" }],
    };
  },
};

/**
 * max(1 s, 10 %) of the duration, kept inside the video: when that leaves no
 * whole frame after it (clips under about a second), the middle of the clip,
 * which is inside by construction and more telling than the last frame.
 * Unknown duration (a still image): the start.
 */
export function thumbnailAtMs(durationMs: number | null, fps: number | null): number {
  if (!durationMs) return 0;
  const at = Math.max(1000, Math.round(durationMs / 10));
  const frameMs = fps ? 1000 / fps : 40;
  return at + frameMs <= durationMs ? at : Math.floor(durationMs / 2);
}

/** `width` as asked but never wider than the picture; height keeps the shown aspect, even. */
export function thumbnailSize(video: Pick<ShownVideo, "width" | "height">, requested: number) {
  const width = Math.min(requested, video.width);
  return { width, height: evenAtMost((video.height * width) / video.width, video.height) };
}

function grabFrame(
  source: string,
  output: string,
  video: ShownVideo,
  size: { width: number; height: number },
  atMs: number,
  signal: AbortSignal,
): Promise<void> {
  // -ss before -i seeks the input (fast) and still lands on the exact frame: ffmpeg decodes from the keyframe before.
  // None for the first frame: a seek to 0 can skip cover art and streams that start after 0.
  const seek = atMs > 0 ? ["-ss", (atMs / 1000).toFixed(3)] : [];
  const args = [
    ...[...seek, "-i", source, "-map", `0:${video.index}`, "-frames:v", "1"],
    ...["-vf", `scale=${size.width}:${size.height},setsar=1`, "-c:v", "mjpeg", "-q:v", "3", "-f", "image2", output],
  ];
  return runFfmpeg(args, { signal });
}

async function nonEmpty(file: string): Promise<boolean> {
  const info = await stat(file).catch(() => null);
  return info !== null && info.size > 0;
}
