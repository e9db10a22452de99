/**
 * What composition needs to know about each clip, from ffprobe: more than the
 * facts handler reads (profile, time base, start, rotation, and a hash of the
 * H.264 parameter sets), because deciding whether clips can be concatenated
 * by stream copy depends on exactly those.
 */
import { z } from "zod";
import { JobError } from "../errors";
import { runTool, ToolMissingError, ToolTimeoutError } from "../ffmpeg";
import { frameRate, type Stream, streamSchema } from "../handlers/ffprobe";

const probeSchema = z.object({
  streams: z.array(streamSchema).default([]),
  format: z.object({ duration: z.string().optional() }).optional(),
});

export interface VideoInfo {
  /** Index of the video stream in its file (the concat demuxer matches streams by index). */
  index: number;
  codec: string;
  profile: string;
  width: number;
  height: number;
  /** Size as shown: sample aspect ratio applied, swapped when rotated by a quarter turn. */
  displayWidth: number;
  displayHeight: number;
  pixFmt: string;
  /** ffprobe's rational ("30/1", "30000/1001"), as filters and the concat demuxer want it. */
  frameRate: string;
  fps: number;
  timeBase: string;
  startS: number;
  durationS: number;
  extradata: string;
  rotation: number;
}

export interface MediaInfo {
  video: VideoInfo | null;
  hasAudio: boolean;
}

const PROBE_TIMEOUT_MS = 120_000;

/** Probes one file; `name` (the job's input name) goes into error messages. */
export async function probeMedia(name: string, file: string, signal: AbortSignal): Promise<MediaInfo> {
  const args = ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-show_data_hash", "CRC32"];
  const stdout = await ffprobe([...args, "--", file], name, signal);
  const parsed = probeSchema.safeParse(safeJson(stdout));
  if (!parsed.success) throw new JobError("probe_failed", "ffprobe printed output that is not its JSON", true);
  const { streams, format } = parsed.data;
  if (streams.length === 0) throw new JobError("unreadable_media", `${name}: no media streams`, false);
  const video = streams.find((s) => s.codec_type === "video" && s.disposition?.attached_pic !== 1);
  const formatDuration = seconds(format?.duration);
  return {
    video: video ? videoInfo(video, formatDuration) : null,
    hasAudio: streams.some((s) => s.codec_type === "audio"),
  };
}

export interface Keyframe {
  /** Position in decode order, which is what the segment muxer counts. */
  frame: number;
  /** Presentation time in seconds, from the start of the file. */
  timeS: number;
}

/**
 * Keyframes of a file's first video stream and its packet count, read from
 * packet flags (no decoding). With closed GOPs (the clip format has them) a
 * keyframe's decode position equals its display position.
 */
export async function keyframes(file: string, signal: AbortSignal): Promise<{ keyframes: Keyframe[]; frames: number }> {
  const args = ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"];
  const stdout = await ffprobe([...args, "--", file], "composition", signal);
  const lines = stdout.split("\n").filter((line) => line.trim() !== "");
  const found: Keyframe[] = [];
  let first: number | undefined;
  for (const [frame, line] of lines.entries()) {
    const [pts, flags = ""] = line.split(",");
    const time = Number(pts);
    if (!flags.includes("K") || !Number.isFinite(time)) continue;
    first ??= time;
    found.push({ frame, timeS: time - first });
  }
  return { keyframes: found, frames: lines.length };
}

async function ffprobe(args: string[], name: string, signal: AbortSignal): Promise<string> {
  let result: Awaited<ReturnType<typeof runTool>>;
  try {
    result = await runTool("ffprobe", args, { signal, timeoutMs: PROBE_TIMEOUT_MS, maxOutputBytes: 64 * 1024 * 1024 });
  } catch (error) {
    if (error instanceof ToolMissingError) throw new JobError("tool_missing", error.message, true);
    if (error instanceof ToolTimeoutError) throw new JobError("probe_timeout", error.message, true);
    throw error;
  }
  if (result.code !== 0) {
    const reason = result.stderr.trim().split("\n", 1)[0] || `exit code ${result.code}`;
    throw new JobError("unreadable_media", `ffprobe could not read ${name}: ${reason}`, false);
  }
  return result.stdout;
}

function videoInfo(stream: Stream, formatDuration: number | null): VideoInfo {
  const width = stream.width ?? 0;
  const height = stream.height ?? 0;
  const rate = validRate(stream.avg_frame_rate) ?? validRate(stream.r_frame_rate) ?? "25/1";
  const rotation = normaliseRotation(stream.side_data_list?.find((s) => s.rotation !== undefined)?.rotation ?? 0);
  const sar = aspect(stream.sample_aspect_ratio);
  const shownWidth = Math.round(width * sar);
  const quarterTurn = rotation === 90 || rotation === 270;
  return {
    index: stream.index ?? 0,
    codec: stream.codec_name ?? "unknown",
    profile: stream.profile ?? "",
    width,
    height,
    displayWidth: quarterTurn ? height : shownWidth,
    displayHeight: quarterTurn ? shownWidth : height,
    pixFmt: stream.pix_fmt ?? "unknown",
    frameRate: rate,
    fps: frameRate(rate) ?? 25,
    timeBase: stream.time_base ?? "",
    // May be negative (an edit list that hides B-frame delay or encoder priming).
    startS: Number.isFinite(Number(stream.start_time)) ? Number(stream.start_time) : 0,
    durationS: seconds(stream.duration) ?? formatDuration ?? 0,
    extradata: stream.extradata_hash ?? "",
    rotation,
  };
}

/** A usable rational frame rate, or null (ffprobe says "0/0" when it does not know). */
function validRate(value: string | undefined): string | null {
  return value && frameRate(value) !== null ? value : null;
}

function normaliseRotation(degrees: number): number {
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

/** "4:3" → 1.333; "0:1", "N/A" and absence mean square pixels. */
function aspect(value: string | undefined): number {
  const match = value ? /^(\d+):(\d+)$/.exec(value) : null;
  const ratio = match ? Number(match[1]) / Number(match[2]) : 1;
  return Number.isFinite(ratio) && ratio > 0 ? ratio : 1;
}

function seconds(value: string | undefined): number | null {
  const parsed = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : null;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
