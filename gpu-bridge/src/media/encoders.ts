/**
 * What the ffmpeg handlers share: detecting ffmpeg and ffprobe, the encoders
 * ffmpeg lists and the H.264 encoder this host really has (also what `doctor`
 * reports), the picture a source's video stream actually shows (rotation and
 * pixel aspect applied), sizes scaled from it without upscaling, and a check
 * that an MP4 starts with its index.
 */
import { open } from "node:fs/promises";
import { errorMessage, JobError } from "../errors";
import { runHandlerTool, runTool, toolVersion } from "../ffmpeg";
import { frameRate, type Probe, shownSize } from "../handlers/ffprobe";
import type { Detection, HandlerContext } from "../handlers/types";
import { abortReason } from "../retry";
import { evenSize } from "./clip-format";

/** Both tools every ffmpeg handler runs, with their versions as the detail. */
export async function detectFfmpeg(signal?: AbortSignal): Promise<Detection> {
  const [ffmpeg, ffprobe] = await Promise.all([toolVersion("ffmpeg", signal), toolVersion("ffprobe", signal)]);
  const missing = [ffmpeg ? null : "ffmpeg", ffprobe ? null : "ffprobe"].filter((name) => name !== null);
  if (missing.length > 0) {
    return { available: false, detail: `${missing.join(" and ")} not found on PATH (install ffmpeg)` };
  }
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
  const listed = await listEncoders();
  if (listed.has("h264_nvenc") && (await nvencTest()).works) return "h264_nvenc";
  return listed.has("libx264") ? "libx264" : null;
}

/** The encoders `ffmpeg -encoders` lists: what this ffmpeg was built with, not what this host can run. */
export async function listEncoders(signal?: AbortSignal): Promise<Set<string>> {
  const listing = await runHandlerTool("ffmpeg", ["-hide_banner", "-encoders"], {
    signal,
    timeoutMs: 10_000,
    timeoutCode: "ffmpeg_timeout",
  });
  if (listing.code !== 0) {
    throw new JobError("ffmpeg_failed", `ffmpeg -encoders failed: ${listing.stderr.trim() || listing.code}`, true);
  }
  const names = listing.stdout.split("\n").map((line) => /^\s[VAS][.A-Z]{5}\s+(\S+)/.exec(line)?.[1]);
  return new Set(names.filter((name): name is string => name !== undefined));
}

/** Whether a tiny test encode with h264_nvenc succeeds here, and what ffmpeg said if not. */
export async function nvencTest(): Promise<{ works: boolean; detail: string }> {
  const args = ["-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=256x144:r=25:d=0.2"];
  try {
    const result = await runTool("ffmpeg", [...args, "-c:v", "h264_nvenc", "-pix_fmt", "yuv420p", "-f", "null", "-"], {
      timeoutMs: 30_000,
    });
    if (result.code === 0) return { works: true, detail: "test encode with h264_nvenc succeeded" };
    return {
      works: false,
      detail: `test encode failed: ${result.stderr.trim().split("\n")[0] || `exit ${result.code}`}`,
    };
  } catch (error) {
    return { works: false, detail: `test encode failed: ${errorMessage(error)}` };
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
 * The video stream of a probed file as it is shown (shownSize: rotation and
 * pixel aspect applied); sizes computed from stored dimensions would be wrong
 * for portrait phone video and anamorphic video alike. Null when there is no
 * picture at all.
 */
export function shownVideo(probe: Probe): ShownVideo | null {
  const pictures = probe.streams.filter((s) => s.codec_type === "video" && s.width && s.height);
  const stream = pictures.find((s) => s.disposition?.attached_pic !== 1) ?? pictures[0];
  if (!stream || stream.index === undefined) return null;
  const { width, height } = shownSize(stream);
  const rate = [stream.avg_frame_rate, stream.r_frame_rate].find((value) => frameRate(value) !== null) ?? null;
  const seconds = Number(stream.duration);
  return {
    index: stream.index,
    width,
    height,
    rate,
    fps: rate === null ? null : frameRate(rate),
    durationMs: Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : null,
    coverArt: stream.disposition?.attached_pic === 1,
  };
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
