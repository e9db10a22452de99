/**
 * ffprobe's JSON and the contract-003 facts derived from it. The mapping is a
 * pure function so its edge cases (no duration, cover art, 0/0 frame rates)
 * are testable without media files.
 */
import { z } from "zod";
import type { MediaFacts } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { runTool, ToolMissingError, ToolTimeoutError } from "../ffmpeg";

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
 * Runs ffprobe on one file. A file ffprobe cannot read is bad input, which no
 * retry will fix; a missing ffprobe or a hang is this host's problem, which
 * another attempt (maybe elsewhere) can get past.
 */
export async function probeFile(file: string, signal: AbortSignal): Promise<{ probe: Probe; stderr: string }> {
  const args = ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--", file];
  let result: Awaited<ReturnType<typeof runTool>>;
  try {
    result = await runTool("ffprobe", args, { signal, timeoutMs: PROBE_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof ToolMissingError) throw new JobError("tool_missing", error.message, true);
    if (error instanceof ToolTimeoutError) throw new JobError("probe_timeout", error.message, true);
    throw error;
  }
  const reason = firstLine(result.stderr).replace(`${file}: `, "");
  if (result.code !== 0) throw new JobError("unreadable_media", `ffprobe could not read the input: ${reason}`, false);
  const parsed = probeSchema.safeParse(safeJson(result.stdout));
  if (!parsed.success) throw new JobError("probe_failed", "ffprobe printed output that is not its JSON", true);
  if (!parsed.data.format || parsed.data.streams.length === 0) {
    throw new JobError("unreadable_media", "ffprobe found no media streams in the input", false);
  }
  return { probe: parsed.data, stderr: result.stderr };
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
