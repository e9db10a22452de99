/**
 * Media for the composition tests, made by ffmpeg in a temp dir, and the
 * checks that look inside outputs: decode complaints, packet hashes, pixels
 * of a frame, loudness of a stretch of audio.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { clipAudioArgs, clipVideoArgs, MP4_ARGS } from "../../src/media/clip-format";

const run = promisify(execFile);
const QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"];

export interface ClipSpec {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  /** Tone frequency; omit for a clip without audio. */
  toneHz?: number;
  /** Solid background (ffmpeg colour), so text drawn on it is easy to find. */
  color?: string;
}

/** A clip in the bridge's clip format (what generated clips look like). */
export async function makeFormatClip(dir: string, name: string, spec: ClipSpec): Promise<string> {
  const file = path.join(dir, `${name}.mp4`);
  await run("ffmpeg", [
    ...QUIET,
    ...sources(spec),
    ...clipVideoArgs(spec.fps),
    ...(spec.toneHz ? clipAudioArgs() : []),
    ...MP4_ARGS,
    file,
  ]);
  return file;
}

/** A clip as a phone or another tool might make it: libx264 defaults, not the clip format. */
export async function makeForeignClip(dir: string, name: string, spec: ClipSpec): Promise<string> {
  const file = path.join(dir, `${name}.mp4`);
  await run("ffmpeg", [
    ...QUIET,
    ...sources(spec),
    ...["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    ...(spec.toneHz ? ["-c:a", "aac", "-ar", "44100", "-ac", "1"] : []),
    file,
  ]);
  return file;
}

function sources(spec: ClipSpec): string[] {
  const size = `${spec.width}x${spec.height}`;
  const video = spec.color
    ? `color=c=${spec.color}:size=${size}:rate=${spec.fps}:duration=${spec.seconds}`
    : `testsrc=size=${size}:rate=${spec.fps}:duration=${spec.seconds}`;
  const audio = spec.toneHz ? ["-f", "lavfi", "-i", `sine=frequency=${spec.toneHz}:duration=${spec.seconds}`] : [];
  return ["-f", "lavfi", "-i", video, ...audio, "-shortest"];
}

/** A steady stereo tone, as an audio bed (M4A). */
export async function makeTone(dir: string, name: string, seconds: number, hz = 1000): Promise<string> {
  const file = path.join(dir, `${name}.m4a`);
  const tone = ["-f", "lavfi", "-i", `sine=frequency=${hz}:duration=${seconds}`];
  await run("ffmpeg", [...QUIET, ...tone, "-ac", "2", "-c:a", "aac", file]);
  return file;
}

/** What `ffmpeg -v error -i file -f null -` prints: empty when the file decodes clean. */
export async function decodeComplaints(file: string): Promise<string> {
  const { stderr } = await run("ffmpeg", ["-hide_banner", "-nostdin", "-v", "error", "-i", file, "-f", "null", "-"]);
  return stderr.trim();
}

/** MD5 of every video packet, in order (stream copy keeps them byte for byte). */
export async function videoPacketHashes(file: string): Promise<string[]> {
  const { stdout } = await run("ffmpeg", [...QUIET, "-i", file, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(",").at(-1)?.trim() ?? "");
}

/** How many pixels of the frame shown at `seconds` are near white (luma above 200). */
export async function brightPixels(file: string, seconds: number): Promise<number> {
  const { stdout } = await run(
    "ffmpeg",
    [...QUIET, "-ss", String(seconds), "-i", file, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
    { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout.filter((luma) => luma > 200).length;
}

/** Mean volume (dBFS) of the audio between `from` and `from + seconds`. */
export async function meanVolume(file: string, from: number, seconds: number): Promise<number> {
  const { stderr } = await run("ffmpeg", [
    ...["-hide_banner", "-nostdin", "-ss", String(from), "-t", String(seconds), "-i", file],
    ...["-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"],
  ]);
  const match = /mean_volume:\s*(-?[\d.]+|-inf) dB/.exec(stderr);
  if (!match?.[1]) throw new Error(`no volumedetect result for ${file}`);
  return match[1] === "-inf" ? Number.NEGATIVE_INFINITY : Number(match[1]);
}

/** Duration (s) of each stream of a file, by type. */
export async function streamDurations(file: string): Promise<Record<string, number>> {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-show_entries", "stream=codec_type,duration", "-of", "csv=p=0", file],
  ]);
  return Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((line) => line.split(","))
      .map(([type, duration]) => [type ?? "", Number(duration)]),
  );
}

/**
 * One gray frame drawn by drawtext with `textOption` (text=… or textfile=…)
 * and `fontOption` (an escaped path), for comparing ways of passing text.
 */
export async function drawnFrame(textOption: string, fontOption: string): Promise<Buffer> {
  const filter = `drawtext=fontfile=${fontOption}:expansion=none:${textOption}:fontsize=20:fontcolor=white:x=4:y=40`;
  const { stdout } = await run(
    "ffmpeg",
    [
      ...QUIET,
      ...["-f", "lavfi", "-i", "color=c=black:size=480x100:rate=1:duration=1", "-vf", filter],
      ...["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
    ],
    { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}
