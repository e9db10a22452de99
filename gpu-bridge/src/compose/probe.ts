/**
 * What composition needs to know about each clip, from ffprobe: more than the
 * facts handler reads (profile, time base, start, rotation, and a hash of the
 * H.264 parameter sets), because deciding whether clips can be concatenated
 * by stream copy depends on exactly those.
 */
import { frameRate, probeFile, runProbe, type Stream, shownSize } from "../handlers/ffprobe";

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

/** Probes one file; `name` (the job's input name) goes into error messages. */
export async function probeMedia(name: string, file: string, signal: AbortSignal): Promise<MediaInfo> {
  const { probe } = await probeFile(file, signal, { what: name, extraArgs: ["-show_data_hash", "CRC32"] });
  const { streams, format } = probe;
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
  const args = ["-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"];
  const stdout = await runProbe(args, file, signal, { what: "the composition", maxOutputBytes: 64 * 1024 * 1024 });
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

function videoInfo(stream: Stream, formatDuration: number | null): VideoInfo {
  const rate = validRate(stream.avg_frame_rate) ?? validRate(stream.r_frame_rate) ?? "25/1";
  const shown = shownSize(stream);
  return {
    index: stream.index ?? 0,
    codec: stream.codec_name ?? "unknown",
    profile: stream.profile ?? "",
    width: stream.width ?? 0,
    height: stream.height ?? 0,
    displayWidth: shown.width,
    displayHeight: shown.height,
    pixFmt: stream.pix_fmt ?? "unknown",
    frameRate: rate,
    fps: frameRate(rate) ?? 25,
    timeBase: stream.time_base ?? "",
    // May be negative (an edit list that hides B-frame delay or encoder priming).
    startS: Number.isFinite(Number(stream.start_time)) ? Number(stream.start_time) : 0,
    durationS: seconds(stream.duration) ?? formatDuration ?? 0,
    extradata: stream.extradata_hash ?? "",
    rotation: shown.rotation,
  };
}

/** A usable rational frame rate, or null (ffprobe says "0/0" when it does not know). */
function validRate(value: string | undefined): string | null {
  return value && frameRate(value) !== null ? value : null;
}

function seconds(value: string | undefined): number | null {
  const parsed = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : null;
}
