/**
 * Joining by stream copy with the concat demuxer: the clips' video into one
 * stream, then that video and the rebuilt audio into the output MP4.
 */

import { MP4_ARGS } from "../media/clip-format";
import { runFfmpeg } from "../media/encode";

/**
 * An ffconcat list. Paths are quoted the way the demuxer unquotes them ('
 * ends a quote, so a quote inside is written '\''). A `duration` makes the
 * next entry start exactly where this entry's video ends: without it the
 * demuxer uses the file's duration, which an audio track a few ms longer
 * than the video would stretch, leaving a gap in the video at every join.
 */
export function concatList(entries: readonly { file: string; durationS?: number }[]): string {
  const lines = ["ffconcat version 1.0"];
  for (const { file, durationS } of entries) {
    lines.push(`file '${file.replaceAll("'", "'\\''")}'`);
    if (durationS !== undefined) lines.push(`duration ${durationS.toFixed(6)}`);
  }
  return `${lines.join("\n")}\n`;
}

export interface CopyOptions {
  signal: AbortSignal;
  durationMs: number;
  onProgress?: (fraction: number) => void;
}

/**
 * The first video stream of every listed file, one after another, copied.
 * -copyts keeps the demuxer's timestamps: otherwise ffmpeg shifts everything
 * by the list's start time, which the first clip's audio priming makes
 * negative, and the video would start a few ms late.
 */
export async function joinVideo(list: string, output: string, options: CopyOptions): Promise<void> {
  await runFfmpeg(
    ["-f", "concat", "-safe", "0", "-i", list, "-map", "0:v:0", "-c", "copy", "-copyts", "-f", "mp4", output],
    options,
  );
}

/**
 * The output: video and audio copied side by side, index first (faststart).
 * Video from MPEG-TS pieces loses the access unit delimiter the TS muxer put
 * in front of every frame: MP4 has no use for it, and without it the copied
 * frames are the clips' own, byte for byte.
 */
export async function muxOutput(
  video: { path: string; concat: boolean },
  audio: string,
  output: string,
  options: CopyOptions,
): Promise<void> {
  await runFfmpeg(
    [
      ...(video.concat ? ["-f", "concat", "-safe", "0"] : []),
      ...["-i", video.path, "-i", audio],
      ...["-map", "0:v:0", "-map", "1:a:0", "-c", "copy"],
      ...(video.concat ? ["-bsf:v", "filter_units=remove_types=9"] : []),
      ...MP4_ARGS,
      output,
    ],
    options,
  );
}
