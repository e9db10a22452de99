/**
 * Every ffprobe run of the bridge (runProbe, probeFile), ffprobe's JSON, and
 * what is derived from it: the contract-003 facts and the picture's shown
 * size. The mappings are pure functions so their edge cases (no duration,
 * cover art, 0/0 frame rates, rotation) are testable without media files.
 */
import { z } from "zod";
import type { MediaFacts } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { runHandlerTool } from "../ffmpeg";

/**
 * One ffprobe stream, every field any handler reads (all optional: ffprobe
 * prints only what applies, and only what the command asked for).
 */
export const streamSchema = z.object({
  index: z.number().optional(),
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  profile: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  pix_fmt: z.string().optional(),
  sample_aspect_ratio: z.string().optional(),
  nb_frames: z.string().optional(),
  channels: z.number().optional(),
  avg_frame_rate: z.string().optional(),
  r_frame_rate: z.string().optional(),
  time_base: z.string().optional(),
  start_time: z.string().optional(),
  duration: z.string().optional(),
  /** With -show_data_hash: a hash of the codec's extradata (for H.264 in MP4, the SPS and PPS). */
  extradata_hash: z.string().optional(),
  disposition: z.object({ attached_pic: z.number().optional() }).optional(),
  side_data_list: z.array(z.object({ rotation: z.number().optional() })).optional(),
});

export const probeSchema = z.object({
  streams: z.array(streamSchema).default([]),
  format: z.object({ format_name: z.string().optional(), duration: z.string().optional() }).optional(),
});
export type Probe = z.infer<typeof probeSchema>;
export type Stream = z.infer<typeof streamSchema>;

const PROBE_TIMEOUT_MS = 120_000;

/**
 * Runs `ffprobe <args> -- file` and returns what it printed. A file ffprobe
 * cannot read is bad input, which no retry will fix; a missing ffprobe or a
 * hang is this host's problem, which another attempt (maybe elsewhere) can
 * get past. `what` names the file in messages ("the input", "clip_2").
 */
export async function runProbe(
  args: readonly string[],
  file: string,
  signal: AbortSignal,
  options: { what?: string; maxOutputBytes?: number } = {},
): Promise<string> {
  const result = await runHandlerTool("ffprobe", ["-v", "error", ...args, "--", file], {
    signal,
    timeoutMs: PROBE_TIMEOUT_MS,
    timeoutCode: "probe_timeout",
    ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
  });
  if (result.code !== 0) {
    const reason = firstLine(result.stderr).replace(`${file}: `, "");
    throw new JobError("unreadable_media", `ffprobe could not read ${options.what ?? "the input"}: ${reason}`, false);
  }
  return result.stdout;
}

/**
 * ffprobe's format and streams of one file (`extraArgs`, e.g. -show_data_hash,
 * add fields); a file without a single stream is unreadable media.
 */
export async function probeFile(
  file: string,
  signal: AbortSignal,
  options: { what?: string; extraArgs?: readonly string[] } = {},
): Promise<{ probe: Probe }> {
  const args = ["-print_format", "json", "-show_format", "-show_streams", ...(options.extraArgs ?? [])];
  const stdout = await runProbe(args, file, signal, options);
  const parsed = probeSchema.safeParse(safeJson(stdout));
  if (!parsed.success) throw new JobError("probe_failed", "ffprobe printed output that is not its JSON", true);
  if (!parsed.data.format || parsed.data.streams.length === 0) {
    throw new JobError("unreadable_media", `ffprobe found no media streams in ${options.what ?? "the input"}`, false);
  }
  return { probe: parsed.data };
}

/** Facts exactly as mediaFactsSchema wants them (nulls where absent), plus warnings worth telling a user. */
export function factsFromProbe(probe: Probe): { facts: MediaFacts; warnings: string[] } {
  const warnings: string[] = [];
  // Cover art in an audio file is a "video" stream of one picture; it is not the media's video.
  const videos = probe.streams.filter((s) => s.codec_type === "video" && s.disposition?.attached_pic !== 1);
  const audios = probe.streams.filter((s) => s.codec_type === "audio");
  const video = videos[0];
  const audio = audios[0];
  if (videos.length > 1) warnings.push(`${videos.length} video streams; facts describe the first`);
  if (audios.length > 1) warnings.push(`${audios.length} audio streams; facts describe the first`);
  if (!video && !audio) warnings.push("no audio or video stream");

  const durationMs = toMs(probe.format?.duration) ?? longestStreamMs(probe.streams);
  if (durationMs === null) warnings.push("duration unknown");
  const fps = video ? (frameRate(video.avg_frame_rate) ?? frameRate(video.r_frame_rate)) : null;
  if (video && fps === null) warnings.push("frame rate unknown");

  const facts: MediaFacts = {
    duration_ms: durationMs,
    media_format: clip(probe.format?.format_name, 128),
    video_codec: clip(video?.codec_name, 64),
    audio_codec: clip(audio?.codec_name, 64),
    width: positiveInt(video?.width),
    height: positiveInt(video?.height),
    fps,
  };
  return { facts, warnings };
}

/** "30000/1001" → 29.97; "0/0" and garbage → null. */
export function frameRate(value: string | undefined): number | null {
  const match = value ? /^(\d+)(?:\/(\d+))?$/.exec(value.trim()) : null;
  if (!match) return null;
  const numerator = Number(match[1]);
  const denominator = match[2] === undefined ? 1 : Number(match[2]);
  if (numerator <= 0 || denominator <= 0) return null;
  return Math.round((numerator / denominator) * 1000) / 1000;
}

/**
 * A video stream's picture as it is shown: the sample aspect ratio applied
 * (anamorphic video is shown wider than it is stored) and the sides swapped
 * for a quarter turn (phones store portrait video as rotated landscape, and
 * ffmpeg turns it upright before filters run). `rotation` is 0, 90, 180 or 270.
 */
export function shownSize(stream: Stream): { width: number; height: number; rotation: number } {
  const width = stream.width ?? 0;
  const height = stream.height ?? 0;
  const degrees = stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0;
  const rotation = (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
  const square = width > 0 ? Math.max(1, Math.round(width * pixelAspect(stream.sample_aspect_ratio))) : 0;
  return rotation % 180 === 90 ? { width: height, height: square, rotation } : { width: square, height, rotation };
}

/** "16:15" → 1.0667; "0:1" (unknown), "N/A", absence and garbage mean square pixels. */
function pixelAspect(value: string | undefined): number {
  const match = value ? /^(\d+):(\d+)$/.exec(value) : null;
  const ratio = match ? Number(match[1]) / Number(match[2]) : 1;
  return Number.isFinite(ratio) && ratio > 0 ? ratio : 1;
}

function toMs(seconds: string | undefined): number | null {
  const value = seconds === undefined ? Number.NaN : Number(seconds);
  return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : null;
}

function longestStreamMs(streams: Stream[]): number | null {
  const all = streams.map((s) => toMs(s.duration)).filter((ms): ms is number => ms !== null);
  return all.length > 0 ? Math.max(...all) : null;
}

function positiveInt(value: number | undefined): number | null {
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : null;
}

function clip(value: string | undefined, max: number): string | null {
  return value ? value.slice(0, max) : null;
}

function firstLine(text: string): string {
  return text.trim().split("\n", 1)[0]?.trim() || "no detail from ffprobe";
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
