/**
 * Normalising: re-encoding a clip into the clip format at the target frame,
 * so it can be concatenated by copy with the others. Only video: the audio of
 * every clip is rebuilt in one pass anyway (see audio.ts).
 */

import { CLIP_FORMAT, clipVideoArgs } from "../media/clip-format";
import { runFfmpeg } from "../media/encode";
import { fitInto, type Target } from "./plan";
import { probeMedia, type VideoInfo } from "./probe";

/**
 * Scale to fit (aspect kept), pad to the target with black bars, square
 * pixels, the target frame rate. ffmpeg has already applied any rotation when
 * frames reach the filters, which is why the fit uses the displayed size.
 */
export function normaliseFilter(video: VideoInfo, target: Target): string {
  const fit = fitInto({ width: video.displayWidth, height: video.displayHeight }, target);
  return [
    `scale=${fit.width}:${fit.height}`,
    "setsar=1",
    `pad=${target.width}:${target.height}:${fit.x}:${fit.y}:black`,
    `fps=${target.frameRate}`,
    `format=${CLIP_FORMAT.pixFmt}`,
  ].join(",");
}

export async function normaliseClip(
  input: { path: string; video: VideoInfo },
  target: Target,
  output: string,
  options: { signal: AbortSignal; onProgress: (fraction: number) => void },
): Promise<void> {
  await runFfmpeg(normaliseArgs(input, target, output), {
    signal: options.signal,
    durationMs: input.video.durationS * 1000,
    onProgress: options.onProgress,
  });
}

/** The clip's video alone, through the normalising filter into the clip format (`frames` of it, or all). */
function normaliseArgs(input: { path: string; video: VideoInfo }, target: Target, output: string, frames?: number) {
  return [
    ...["-i", input.path, "-map", "0:v:0", "-an", "-sn", "-dn"],
    ...(frames === undefined ? [] : ["-frames:v", String(frames)]),
    ...["-vf", normaliseFilter(input.video, target)],
    ...clipVideoArgs(target.fps),
    ...["-f", "mp4", output],
  ];
}

/**
 * What a clip re-encoded here looks like to a decoder: one frame of `input`
 * through the normalising filter, probed. A clip whose parameter sets and
 * time base equal these can sit next to normalised clips and re-encoded
 * overlay pieces without a decoder noticing the join.
 */
export async function referenceEncode(
  input: { path: string; video: VideoInfo },
  target: Target,
  output: string,
  signal: AbortSignal,
): Promise<VideoInfo | null> {
  await runFfmpeg(normaliseArgs(input, target, output, 1), { signal });
  return (await probeMedia("the reference encode", output, signal)).video;
}
