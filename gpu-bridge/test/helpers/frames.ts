/**
 * Test pictures made by ffmpeg, and ways to look at generated media: decoded
 * frames as raw pixels at a small size, mean absolute pixel differences,
 * frames counted by decoding, the tags ffprobe sees, and the clip-format check.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";

const run = promisify(execFile);
const MAX_BUFFER = 64 * 1024 * 1024;

/** A PNG from a lavfi source ("testsrc2", "smptebars", "color=c=red"...) at width×height. */
export async function makeImage(
  dir: string,
  name: string,
  source: string,
  width: number,
  height: number,
): Promise<string> {
  const file = path.join(dir, name);
  await run("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...[
      "-f",
      "lavfi",
      "-i",
      `${source}${source.includes("=") ? ":" : "="}s=${width}x${height}`,
      "-frames:v",
      "1",
      file,
    ],
  ]);
  return file;
}

export interface RawOptions {
  width: number;
  height: number;
  format: "gray" | "rgb24";
  /** Fill the size and crop the overflow (as the providers fit pictures) instead of stretching. */
  cover?: boolean;
}

/** Every frame of `file` (one for an image) scaled to width×height, as raw pixels. */
export async function rawFrames(file: string, options: RawOptions): Promise<Buffer[]> {
  const scale = `scale=${options.width}:${options.height}:flags=area`;
  const crop = `crop=${options.width}:${options.height}`;
  const { stdout } = await run(
    "ffmpeg",
    [
      ...["-hide_banner", "-loglevel", "error", "-i", file],
      ...["-vf", options.cover ? `${scale}:force_original_aspect_ratio=increase,${crop}` : scale],
      ...["-f", "rawvideo", "-pix_fmt", options.format, "-"],
    ],
    { encoding: "buffer", maxBuffer: MAX_BUFFER },
  );
  const frameBytes = options.width * options.height * (options.format === "gray" ? 1 : 3);
  const frames: Buffer[] = [];
  for (let offset = 0; offset + frameBytes <= stdout.length; offset += frameBytes) {
    frames.push(stdout.subarray(offset, offset + frameBytes));
  }
  return frames;
}

/** Mean absolute difference of two same-sized pixel buffers, 0..255. */
export function meanAbsDiff(a: Buffer, b: Buffer): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`cannot compare ${a.length} and ${b.length} bytes`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

export interface CountedStream {
  codec_name: string;
  width: number;
  height: number;
  pix_fmt: string;
  r_frame_rate: string;
  nb_read_frames: string;
}

/** The video stream with its frames counted by decoding them all (`-count_frames`), not read from the index. */
export async function countFrames(file: string): Promise<CountedStream> {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-select_streams", "v:0", "-count_frames"],
    ...["-show_entries", "stream=codec_name,width,height,pix_fmt,r_frame_rate,nb_read_frames", "-of", "json", file],
  ]);
  const stream = (JSON.parse(stdout) as { streams: CountedStream[] }).streams[0];
  if (!stream) throw new Error(`no video stream in ${file}`);
  return stream;
}

/** Container tags and the first frame's tags (PNG tEXt chunks show up there). */
export async function probeTags(
  file: string,
): Promise<{ format: Record<string, string>; frame: Record<string, string> }> {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-show_entries", "format_tags:frame_tags", "-read_intervals", "%+#1", "-of", "json", file],
  ]);
  const parsed = JSON.parse(stdout) as {
    format?: { tags?: Record<string, string> };
    frames?: { tags?: Record<string, string> }[];
  };
  return { format: parsed.format?.tags ?? {}, frame: parsed.frames?.[0]?.tags ?? {} };
}

/** Stream codecs and the container duration, for checking the clip format. */
export async function streamsOf(file: string): Promise<{ codecs: string[]; durationS: number }> {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "json", file],
  ]);
  const parsed = JSON.parse(stdout) as { streams: { codec_name: string }[]; format: { duration: string } };
  return { codecs: parsed.streams.map((s) => s.codec_name), durationS: Number(parsed.format.duration) };
}

/**
 * Expects `file` in the clip format (H.264 yuv420p with AAC) at exactly this
 * size and rate, with exactly `frames` frames (counted by decoding) and as
 * long as they last.
 */
export async function expectClip(
  file: string,
  shape: { width: number; height: number; fps: number; frames: number },
): Promise<void> {
  expect(await countFrames(file)).toMatchObject({
    codec_name: "h264",
    pix_fmt: "yuv420p",
    width: shape.width,
    height: shape.height,
    r_frame_rate: `${shape.fps}/1`,
    nb_read_frames: String(shape.frames),
  });
  const streams = await streamsOf(file);
  expect(streams.codecs).toEqual(["h264", "aac"]);
  expect(Math.abs(streams.durationS - shape.frames / shape.fps)).toBeLessThan(0.1);
}
