/**
 * The clean-decode check: every stream of the output decoded to the end with
 * `-v error` must print nothing. A join that went wrong (a parameter-set
 * mismatch, a missing reference frame, a timestamp that jumps back) shows up
 * here as a decoder or demuxer complaint even when ffprobe is satisfied.
 *
 * One ffmpeg decodes a long H.264 stream at well under the machine's cores
 * (its main loop is serial), so the output is decoded in parallel chunks that
 * start at keyframes away from every join: each join is still decoded in one
 * go, with the decoder state a player would have. A chunk start can only add
 * complaints (a decoder seeking in has less state, not more), so any
 * complaint is settled by the whole-file decode, `ffmpeg -v error -i out -f
 * null -`, which alone decides.
 */
import { availableParallelism } from "node:os";
import { JobError } from "../errors";
import { ffmpegWithProgress } from "../media/encode";
import { decodeChunks } from "./plan";
import { keyframes } from "./probe";

/** Shorter chunks are not worth an ffmpeg start. */
const MIN_CHUNK_S = 2;

export interface DecodeCheck {
  signal: AbortSignal;
  durationS: number;
  /** Times (s) where clips or pieces meet: no chunk starts there. */
  joins: readonly number[];
  onProgress?: (fraction: number) => void;
}

export async function assertDecodesClean(file: string, check: DecodeCheck): Promise<void> {
  const { signal, durationS } = check;
  const cores = availableParallelism();
  const count = Math.min(cores, Math.floor(durationS / MIN_CHUNK_S));
  const starts =
    count > 1 ? decodeChunks((await keyframes(file, signal)).keyframes, check.joins, durationS, count) : [];
  if (starts.length > 0) {
    const bounds = [0, ...starts, durationS];
    const done = bounds.slice(1).map(() => 0);
    const threads = String(Math.max(1, Math.floor(cores / done.length)));
    const report = () => check.onProgress?.(done.reduce((sum, s) => sum + s, 0) / durationS);
    const chunks = await Promise.allSettled(
      bounds.slice(1).map((end, i) => {
        const start = bounds[i] ?? 0;
        const range = ["-threads", threads, "-ss", start.toFixed(6), "-i", file, "-t", (end - start).toFixed(6)];
        return decode(range, signal, (seconds) => {
          done[i] = Math.min(end - start, seconds);
          report();
        });
      }),
    );
    const failure = chunks.find((chunk) => chunk.status === "rejected");
    if (failure) throw failure.reason;
    if (chunks.every((chunk) => chunk.status === "fulfilled" && chunk.value === "")) return;
  }
  const complaints = await decode(["-i", file], signal, (seconds) => check.onProgress?.(seconds / durationS));
  if (complaints !== "") {
    const detail = complaints.split("\n").slice(0, 3).join(" | ");
    throw new JobError("output_invalid", `the output does not decode cleanly: ${detail}`, true);
  }
}

/** What `ffmpeg -v error <input> -map 0 -f null -` prints (an exit code when it prints nothing). */
async function decode(input: string[], signal: AbortSignal, onSeconds: (seconds: number) => void): Promise<string> {
  const result = await ffmpegWithProgress([...input, "-map", "0", "-f", "null", "-"], {
    signal,
    onPosition: onSeconds,
  });
  const complaints = result.stderr.trim();
  return complaints === "" && result.code !== 0 ? `ffmpeg exit code ${result.code}` : complaints;
}
