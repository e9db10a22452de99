/**
 * `audio.waveform@1` (job type waveform): the peaks of the first audio stream
 * for drawing a waveform, as JSON {duration_ms, buckets, peaks[0..1]}.
 *
 * ffmpeg decodes to 8 kHz mono 16-bit PCM on its stdout and the peaks are
 * reduced as the bytes arrive, so memory stays small however long the audio
 * is (an hour is 57 MB of PCM even at this rate).
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { runHandlerTool } from "../ffmpeg";
import { ffmpegError } from "../media/encode";
import { detectFfmpeg, sourcePath } from "../media/encoders";
import { factsFromProbe, probeFile } from "./ffprobe";
import { parseParams } from "./params";
import type { Handler } from "./types";

const SAMPLE_RATE = 8000;
const DECODE_TIMEOUT_MS = 30 * 60_000;

const waveformSchema = z
  .object({
    duration_ms: z.number().int().nonnegative(),
    buckets: z.number().int().positive(),
    peaks: z.array(z.number().min(0).max(1)),
  })
  .strict()
  .refine((w) => w.peaks.length === w.buckets, { message: "peaks.length must equal buckets" });

export const waveformHandler: Handler = {
  capability: "audio.waveform@1",
  jobType: "waveform",

  detect: detectFfmpeg,

  async run(context) {
    const params = parseParams(JOB_TYPES.waveform.params, context);
    const source = sourcePath(context);
    context.progress({ fraction: 0, stage: "probing", message: "ffprobe" });
    const { probe } = await probeFile(source, context.signal);
    const audios = probe.streams.filter((s) => s.codec_type === "audio");
    const audio = audios[0];
    if (!audio) throw new JobError("no_audio", "the source has no audio stream to draw a waveform of", false);
    const warnings = audios.length > 1 ? [`${audios.length} audio streams; the waveform is of the first`] : [];
    const streamSeconds = Number(audio.duration);
    const expectedMs = streamSeconds > 0 ? streamSeconds * 1000 : factsFromProbe(probe).facts.duration_ms;
    const expectedSamples = expectedMs ? (expectedMs / 1000) * SAMPLE_RATE : 0;

    const reducer = new PeakReducer(params.buckets);
    let reported = 0;
    const started = performance.now();
    await decodePcm(source, context.signal, (chunk) => {
      reducer.add(chunk);
      if (!expectedSamples) return;
      // Capped below 1: the probe's duration is an estimate, and decoding is done only when ffmpeg exits.
      const fraction = Math.min(0.99, reducer.samples / expectedSamples);
      if (fraction - reported >= 0.02) {
        reported = fraction;
        context.progress({ fraction: 0.05 + 0.85 * fraction, stage: "decoding", message: "reading peaks" });
      }
    });
    const decodeMs = Math.round(performance.now() - started);

    context.progress({ fraction: 0.92, stage: "writing", message: "waveform JSON" });
    const waveform = {
      duration_ms: Math.round((reducer.samples / SAMPLE_RATE) * 1000),
      buckets: params.buckets,
      peaks: reducer.peaks(),
    };
    const output = path.join(context.scratchDir, "waveform.json");
    await writeFile(output, JSON.stringify(waveform));
    // The written file is what gets uploaded: check it, not the object it came from.
    const written = waveformSchema.safeParse(JSON.parse(await readFile(output, "utf8")));
    if (!written.success) {
      throw new JobError("output_invalid", `the waveform failed verification: ${written.error.message}`, true);
    }
    context.progress({ fraction: 1, stage: "writing", message: `${params.buckets} peaks` });
    return {
      facts: { duration_ms: waveform.duration_ms, buckets: waveform.buckets },
      warnings,
      metrics: { decode_ms: decodeMs },
      outputs: [{ kind: "waveform", path: output, contentType: "application/json" }],
    };
  },
};

/**
 * Max |sample| per bucket, computed in one pass without knowing the length in
 * advance (a probe's duration is an estimate). Peaks are kept per block of
 * `blockSize` samples; when there are too many blocks, neighbours are merged
 * and the block size doubles. At the end the blocks (at least 32 per bucket
 * for audio longer than that) are split evenly into the buckets. Audio with
 * fewer samples than buckets is stretched: each sample's peak is repeated
 * over the buckets it covers, so the picture keeps its shape; no audio at all
 * gives zeros.
 */
export class PeakReducer {
  private blocks: Uint16Array;
  private count = 0;
  private blockSize = 1;
  private filled = 0;
  private carry: number | null = null;
  samples = 0;

  constructor(private readonly buckets: number) {
    this.blocks = new Uint16Array(buckets * 64);
  }

  /** Little-endian signed 16-bit samples; a chunk may end halfway through one. */
  add(chunk: Buffer): void {
    let offset = 0;
    if (this.carry !== null && chunk.length > 0) {
      this.push(Buffer.from([this.carry, chunk[0] ?? 0]).readInt16LE(0));
      this.carry = null;
      offset = 1;
    }
    for (; offset + 1 < chunk.length; offset += 2) this.push(chunk.readInt16LE(offset));
    if (offset < chunk.length) this.carry = chunk[offset] ?? null;
  }

  private push(sample: number): void {
    this.samples++;
    if (this.filled === 0) {
      if (this.count === this.blocks.length) this.halve();
      this.blocks[this.count++] = 0;
    }
    const magnitude = Math.abs(sample);
    const last = this.count - 1;
    if (magnitude > (this.blocks[last] ?? 0)) this.blocks[last] = magnitude;
    this.filled = (this.filled + 1) % this.blockSize;
  }

  /** Merges neighbouring blocks: half as many, each twice as long. */
  private halve(): void {
    const half = this.count / 2;
    for (let i = 0; i < half; i++) {
      this.blocks[i] = Math.max(this.blocks[2 * i] ?? 0, this.blocks[2 * i + 1] ?? 0);
    }
    this.count = half;
    this.blockSize *= 2;
  }

  /** `buckets` peaks, |sample| / 32768 to 4 decimals. */
  peaks(): number[] {
    const { count, buckets } = this;
    return Array.from({ length: buckets }, (_, bucket) => {
      if (count === 0) return 0;
      const from = Math.floor((bucket * count) / buckets);
      const to = Math.max(from + 1, Math.floor(((bucket + 1) * count) / buckets));
      let peak = 0;
      for (let i = from; i < to; i++) peak = Math.max(peak, this.blocks[i] ?? 0);
      return Math.round((peak / 32768) * 10_000) / 10_000;
    });
  }
}

/**
 * ffmpeg → first audio stream as 8 kHz mono s16le on stdout, each chunk to
 * `onChunk` as it arrives (runTool keeps only the first 64 kB of each stream:
 * the first lines say why ffmpeg failed, the samples are not needed twice).
 */
async function decodePcm(source: string, signal: AbortSignal, onChunk: (chunk: Buffer) => void): Promise<void> {
  const args = [
    ...["-hide_banner", "-nostdin", "-v", "error", "-i", source, "-map", "0:a:0"],
    ...["-ac", "1", "-ar", String(SAMPLE_RATE), "-f", "s16le", "pipe:1"],
  ];
  const result = await runHandlerTool("ffmpeg", args, {
    signal,
    timeoutMs: DECODE_TIMEOUT_MS,
    timeoutCode: "ffmpeg_timeout",
    maxOutputBytes: 64_000,
    onStdout: (chunk) => {
      if (!signal.aborted) onChunk(chunk);
    },
  });
  if (result.code !== 0) throw ffmpegError(result.stderr, result.code);
}
