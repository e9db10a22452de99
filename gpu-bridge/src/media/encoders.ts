/**
 * What the derivative handlers (thumbnails, proxies, waveforms) share: the
 * H.264 encoder this host really has, the picture a source's video stream
 * actually shows (rotation and pixel aspect applied), sizes scaled from it
 * without upscaling, and a check that an MP4 starts with its index.
 */
import { open } from "node:fs/promises";
import { z } from "zod";
import { JobError } from "../errors";
import { runTool, ToolMissingError, ToolTimeoutError, toolVersion } from "../ffmpeg";
import { frameRate, streamSchema } from "../handlers/ffprobe";
import type { Detection, HandlerContext } from "../handlers/types";
import { abortReason } from "../retry";
import { evenSize } from "./clip-format";

/** Both tools every derivative handler runs, with their versions as the detail. */
export async function detectFfmpeg(signal?: AbortSignal): Promise<Detection> {
  const [ffmpeg, ffprobe] = await Promise.all([toolVersion("ffmpeg", signal), toolVersion("ffprobe", signal)]);
  const missing = [ffmpeg ? null : "ffmpeg", ffprobe ? null : "ffprobe"].filter((name) => name !== null);
  if (missing.length > 0) return { available: false, detail: `${missing.join(" and ")} not found on PATH` };
  return { available: true, detail: `${ffmpeg}; ${ffprobe}` };
}

/** The downloaded path of the one input every derivative job type reads. */
export function sourcePath(context: HandlerContext): string {
  const source = context.inputs.get("source");
  if (!source) throw new JobError("input_missing", `${context.job.job_type} needs an input named source`, false);
  return source.path;
}

export type H264Encoder = "h264_nvenc" | "libx264";

let encoderChoice: Promise<H264Encoder | null> | undefined;

/**
 * The H.264 encoder for proxies: h264_nvenc only if a tiny test encode with
 * it works here (ffmpeg lists it wherever it was built with it, and H100/A100
 * have no NVENC at all), else libx264; null when neither is usable. Asked once
 * per process. The test encode is shared by every job, so it runs under its own
 * timeout rather than one job's signal (one job's abort must not poison the
 * cached answer for the others); each caller stops waiting on its own signal.
 */
export function h264Encoder(signal?: AbortSignal): Promise<H264Encoder | null> {
  if (!encoderChoice) {
    const choice = chooseH264Encoder();
    encoderChoice = choice;
    // A failure to ask (ffmpeg missing, hung) is not an answer: the next caller asks again.
    choice.catch(() => {
      if (encoderChoice === choice) encoderChoice = undefined;
    });
  }
  return signal ? untilAborted(encoderChoice, signal) : encoderChoice;
}

async function chooseH264Encoder(): Promise<H264Encoder | null> {
  let listing: Awaited<ReturnType<typeof runTool>>;
  try {
    listing = await runTool("ffmpeg", ["-hide_banner", "-encoders"], { timeoutMs: 10_000 });
  } catch (error) {
    if (error instanceof ToolMissingError) throw new JobError("tool_missing", error.message, true);
    if (error instanceof ToolTimeoutError) throw new JobError("ffmpeg_timeout", error.message, true);
    throw error;
  }
  if (listing.code !== 0) {
    throw new JobError("ffmpeg_failed", `ffmpeg -encoders failed: ${listing.stderr.trim() || listing.code}`, true);
  }
  const listed = new Set(listing.stdout.split("\n").map((line) => /^\s[VAS][.A-Z]{5}\s+(\S+)/.exec(line)?.[1]));
  if (listed.has("h264_nvenc") && (await nvencWorks())) return "h264_nvenc";
  return listed.has("libx264") ? "libx264" : null;
}

async function nvencWorks(): Promise<boolean> {
  const args = ["-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=256x144:r=25:d=0.2"];
  try {
    const result = await runTool("ffmpeg", [...args, "-c:v", "h264_nvenc", "-pix_fmt", "yuv420p", "-f", "null", "-"], {
      timeoutMs: 30_000,
    });
    return result.code === 0;
  } catch (error) {
    if (error instanceof ToolTimeoutError) return false;
    throw error;
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Encoder arguments for an H.264 yuv420p stream at quality ~CRF 23 with a
 * fixed GOP: a keyframe every `gop` frames and none in between (no scene-cut
 * keyframes), so seeking in a proxy never decodes more than that many frames.
 */
export function h264Args(encoder: H264Encoder, gop: number): string[] {
  const common = ["-pix_fmt", "yuv420p", "-g", String(gop)];
  if (encoder === "h264_nvenc") {
    // Constant-quality VBR is NVENC's counterpart of CRF; -b:v 0 lets -cq alone decide the rate.
    return [
      ...["-c:v", "h264_nvenc", "-preset", "p4", "-no-scenecut", "1"],
      ...["-rc", "vbr", "-cq", "23", "-b:v", "0"],
      ...common,
    ];
  }
  return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-sc_threshold", "0", ...common];
}

/**
 * The first video stream of a file as it is shown: rotation applied, pixels
 * square. A real video stream comes first; cover art (the one picture an
 * audio file may carry) only when there is none.
 */
export interface ShownVideo {
  /** Absolute stream index, for `-map 0:<index>`. */
  index: number;
  width: number;
  height: number;
  /** Frame rate as ffprobe printed it ("30000/1001"), for `-r`; null when unknown. */
  rate: string | null;
  fps: number | null;
  durationMs: number | null;
  /** An attached picture, not video: one frame, no timeline. */
  coverArt: boolean;
}

/**
 * ffprobe's view of the video streams, with what probeFile leaves out: the
 * display rotation (phones store portrait video as rotated landscape, and
 * ffmpeg turns it upright before filters run) and the sample aspect ratio
 * (anamorphic video is shown wider than it is stored). Sizes computed from
 * stored dimensions would be wrong for both.
 */
export async function shownVideo(file: string, signal: AbortSignal): Promise<ShownVideo | null> {
  const entries = [
    "stream=index,width,height,sample_aspect_ratio,avg_frame_rate,r_frame_rate,duration",
    "stream_disposition=attached_pic",
    "stream_side_data=rotation",
  ].join(":");
  const args = ["-v", "error", "-select_streams", "v", "-show_entries", entries, "-of", "json", "--", file];
  let result: Awaited<ReturnType<typeof runTool>>;
  try {
    result = await runTool("ffprobe", args, { signal, timeoutMs: 120_000 });
  } catch (error) {
    if (error instanceof ToolMissingError) throw new JobError("tool_missing", error.message, true);
    if (error instanceof ToolTimeoutError) throw new JobError("probe_timeout", error.message, true);
    throw error;
  }
  if (result.code !== 0) {
    const reason = result.stderr.trim().split("\n", 1)[0] || `exit code ${result.code}`;
    throw new JobError("unreadable_media", `ffprobe could not read the input: ${reason}`, false);
  }
  const streams = videoStreamsSchema.safeParse(safeJson(result.stdout)).data?.streams ?? [];
  const pictures = streams.filter((s) => s.width && s.height);
  const stream = pictures.find((s) => s.disposition?.attached_pic !== 1) ?? pictures[0];
  if (!stream?.width || !stream.height || stream.index === undefined) return null;
  const pixelAspect = ratio(stream.sample_aspect_ratio) ?? 1;
  const squareWidth = Math.max(1, Math.round(stream.width * pixelAspect));
  const quarterTurn =
    Math.abs(stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0) % 180 === 90;
  const rate = [stream.avg_frame_rate, stream.r_frame_rate].find((value) => frameRate(value) !== null) ?? null;
  const seconds = Number(stream.duration);
  return {
    index: stream.index,
    width: quarterTurn ? stream.height : squareWidth,
    height: quarterTurn ? squareWidth : stream.height,
    rate,
    fps: rate === null ? null : frameRate(rate),
    durationMs: Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : null,
    coverArt: stream.disposition?.attached_pic === 1,
  };
}

const videoStreamsSchema = z.object({ streams: z.array(streamSchema) });

/** "16:15" → 1.0667; "0:1" (unknown), "N/A" and garbage → null. */
function ratio(value: string | undefined): number | null {
  const match = value ? /^(\d+):(\d+)$/.exec(value) : null;
  if (!match) return null;
  const result = Number(match[1]) / Number(match[2]);
  return Number.isFinite(result) && result > 0 ? result : null;
}

/**
 * `value` rounded to the nearest even number (what yuv420p needs), never above
 * `limit` rounded down to even, so a size is never scaled up, and at least 2.
 */
export function evenAtMost(value: number, limit: number): number {
  return Math.max(2, Math.min(evenSize(limit), 2 * Math.round(value / 2)));
}

/**
 * Whether the file's top-level MP4 boxes put `moov` (the index) before `mdat`
 * (the media), as `-movflags +faststart` arranges: a player can then start
 * before the whole file has arrived. Reads box headers only.
 */
export async function moovBeforeMdat(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= size) {
      const { bytesRead } = await handle.read(header, 0, 16, offset);
      if (bytesRead < 8) return false;
      const type = header.toString("latin1", 4, 8);
      if (type === "moov") return true;
      if (type === "mdat") return false;
      const boxSize = header.readUInt32BE(0);
      // 1: a 64-bit size follows the type; 0 (box runs to the end) or a size below a header: no moov ahead.
      const length = boxSize === 1 && bytesRead >= 16 ? Number(header.readBigUInt64BE(8)) : boxSize;
      if (length < 8) return false;
      offset += length;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** Fails an MP4 output whose index is not at its start (our bug, so retryable). */
export async function assertFaststart(file: string): Promise<void> {
  if (!(await moovBeforeMdat(file))) {
    throw new JobError(
      "output_invalid",
      "the output failed verification: moov is not before mdat (no faststart)",
      true,
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
