/**
 * Running ffmpeg for a handler: progress as ffmpeg advances (from `-progress`),
 * a clear JobError when it fails, and ffprobe verification of every output
 * before it is uploaded. Handlers build their arguments; this owns the rest.
 */
import { JobError } from "../errors";
import { runHandlerTool, type ToolResult } from "../ffmpeg";
import { type Probe, probeFile } from "../handlers/ffprobe";

export interface FfmpegOptions {
  signal: AbortSignal;
  /** Output duration expected, for progress; omit when unknown (progress then stays at 0 until done). */
  durationMs?: number | null;
  /** Fraction 0..1 of this ffmpeg run, at most a few times a second. */
  onProgress?: (fraction: number) => void;
  /** Kill ffmpeg after this long (default 30 min). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/**
 * Runs `ffmpeg -hide_banner -nostdin -y -v error -progress pipe:1 <args>`. A
 * non-zero exit is bad input when ffmpeg says the input is invalid, else a
 * retryable host failure; either way the message carries ffmpeg's own words.
 */
export async function runFfmpeg(args: readonly string[], options: FfmpegOptions): Promise<void> {
  const { durationMs, onProgress } = options;
  let last = 0;
  const result = await ffmpegWithProgress(args, {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    onPosition: (seconds) => {
      if (!onProgress || !durationMs) return;
      const fraction = Math.min(1, (seconds * 1000) / durationMs);
      if (fraction - last >= 0.01) {
        last = fraction;
        onProgress(fraction);
      }
    },
  });
  if (result.code !== 0) throw ffmpegError(result.stderr, result.code);
  onProgress?.(1);
}

/**
 * ffmpeg quiet but for errors, with its output position (seconds, from
 * `-progress`'s out_time_us) as it advances; the result as it is, whatever
 * the exit code. A missing ffmpeg or a timeout rejects as a retryable JobError.
 */
export function ffmpegWithProgress(
  args: readonly string[],
  options: { signal: AbortSignal; timeoutMs?: number | undefined; onPosition?: (seconds: number) => void },
): Promise<ToolResult> {
  const { signal, timeoutMs = DEFAULT_TIMEOUT_MS, onPosition } = options;
  const full = ["-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats", ...args];
  return runHandlerTool("ffmpeg", full, {
    signal,
    timeoutMs,
    timeoutCode: "ffmpeg_timeout",
    onStdout: (chunk) => {
      // `-progress` prints key=value blocks; out_time_us is the output position.
      const position = [...chunk.toString("utf8").matchAll(/out_time_us=(\d+)/g)].at(-1)?.[1];
      if (position && onPosition) onPosition(Number(position) / 1e6);
    },
  });
}

/** Bad input (final) when ffmpeg says the data is invalid, else a host failure worth retrying; in ffmpeg's words. */
export function ffmpegError(stderr: string, code: number | null): JobError {
  const detail = stderr.trim().split("\n").slice(-3).join(" | ") || `exit code ${code}`;
  const badInput = /Invalid data found|could not find codec|does not contain any stream|No such file/i.test(detail);
  return new JobError(badInput ? "unreadable_media" : "ffmpeg_failed", `ffmpeg failed: ${detail}`, !badInput);
}

/** What an output must be; every given field is checked against ffprobe. */
export interface Expectation {
  video?: { codec?: string; width?: number; height?: number; pixFmt?: string };
  audio?: { codec?: string } | false;
  /** Allowed distance from this duration, in ms (default 150). */
  durationMs?: number;
  durationToleranceMs?: number;
}

/**
 * ffprobes an output before upload: a handler bug or a truncated write fails
 * the job here (retryable: it is this host's fault, not the input's) instead
 * of handing the user a file that does not play.
 */
export async function verifyOutput(file: string, expect: Expectation, signal: AbortSignal): Promise<Probe> {
  let probe: Probe;
  try {
    ({ probe } = await probeFile(file, signal));
  } catch (error) {
    if (error instanceof JobError && error.code === "unreadable_media") {
      throw new JobError("output_invalid", `the output does not probe: ${error.message}`, true);
    }
    throw error;
  }
  const problems: string[] = [];
  const video = probe.streams.find((s) => s.codec_type === "video");
  const audio = probe.streams.find((s) => s.codec_type === "audio");
  if (expect.video) {
    if (!video) problems.push("no video stream");
    else {
      const want = expect.video;
      if (want.codec && video.codec_name !== want.codec)
        problems.push(`video codec ${video.codec_name} ≠ ${want.codec}`);
      if (want.width && video.width !== want.width) problems.push(`width ${video.width} ≠ ${want.width}`);
      if (want.height && video.height !== want.height) problems.push(`height ${video.height} ≠ ${want.height}`);
      if (want.pixFmt && video.pix_fmt !== want.pixFmt) problems.push(`pix_fmt ${video.pix_fmt} ≠ ${want.pixFmt}`);
    }
  }
  if (expect.audio === false && audio) problems.push("unexpected audio stream");
  if (expect.audio) {
    if (!audio) problems.push("no audio stream");
    else if (expect.audio.codec && audio.codec_name !== expect.audio.codec) {
      problems.push(`audio codec ${audio.codec_name} ≠ ${expect.audio.codec}`);
    }
  }
  if (expect.durationMs !== undefined) {
    const got = Math.round(Number(probe.format?.duration ?? Number.NaN) * 1000);
    const tolerance = expect.durationToleranceMs ?? 150;
    if (!(Math.abs(got - expect.durationMs) <= tolerance))
      problems.push(`duration ${got} ms ≠ ${expect.durationMs} ms`);
  }
  if (problems.length > 0) {
    throw new JobError("output_invalid", `the output failed verification: ${problems.join("; ")}`, true);
  }
  return probe;
}
