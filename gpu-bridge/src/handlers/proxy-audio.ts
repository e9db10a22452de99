/**
 * `media.proxies.audio@1` (job type proxy_audio): the first audio stream as
 * AAC in an M4A at bitrate_kbps, index first (faststart), for browser
 * playback of anything ffmpeg can read.
 */
import path from "node:path";
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { MP4_ARGS } from "../media/clip-format";
import { runFfmpeg, verifyOutput } from "../media/encode";
import { assertFaststart, detectFfmpeg, sourcePath } from "../media/encoders";
import { factsFromProbe, probeFile } from "./ffprobe";
import { parseParams } from "./params";
import type { Handler } from "./types";

/** AAC priming and the last partial frame make the re-encode's duration drift a little. */
const DURATION_TOLERANCE_MS = 250;

export const proxyAudioHandler: Handler = {
  capability: "media.proxies.audio@1",
  jobType: "proxy_audio",

  detect: detectFfmpeg,

  async run(context) {
    const params = parseParams(JOB_TYPES.proxy_audio.params, context);
    const source = sourcePath(context);
    context.progress({ fraction: 0, stage: "probing", message: "ffprobe" });
    const { probe } = await probeFile(source, context.signal);
    const audios = probe.streams.filter((s) => s.codec_type === "audio");
    const audio = audios[0];
    if (!audio) throw new JobError("no_audio", "the source has no audio stream to make a proxy of", false);
    const warnings = audios.length > 1 ? [`${audios.length} audio streams; the proxy carries the first`] : [];
    const streamSeconds = Number(audio.duration);
    const durationMs = streamSeconds > 0 ? Math.round(streamSeconds * 1000) : factsFromProbe(probe).facts.duration_ms;

    const output = path.join(context.scratchDir, "proxy.m4a");
    const args = [
      ...["-i", source, "-map", "0:a:0", "-c:a", "aac", "-b:a", `${params.bitrate_kbps}k`],
      // Surround is folded to stereo: a preview plays on laptop speakers; mono stays mono.
      ...((audio.channels ?? 0) > 2 ? ["-ac", "2"] : []),
      ...["-stats_period", "0.1", ...MP4_ARGS, output],
    ];
    const started = performance.now();
    await runFfmpeg(args, {
      signal: context.signal,
      durationMs,
      onProgress: (fraction) =>
        context.progress({
          fraction: 0.05 + 0.85 * fraction,
          stage: "encoding",
          message: `AAC ${params.bitrate_kbps} kb/s`,
        }),
    });
    const encodeMs = Math.round(performance.now() - started);

    context.progress({ fraction: 0.92, stage: "verifying", message: "ffprobe the proxy" });
    const checked = await verifyOutput(
      output,
      {
        audio: { codec: "aac" },
        ...(durationMs === null ? {} : { durationMs, durationToleranceMs: DURATION_TOLERANCE_MS }),
      },
      context.signal,
    );
    if (checked.streams.length !== 1) {
      throw new JobError(
        "output_invalid",
        `the output failed verification: ${checked.streams.length} streams, not 1`,
        true,
      );
    }
    await assertFaststart(output);
    const made = factsFromProbe(checked).facts;
    context.progress({ fraction: 1, stage: "verifying", message: "proxy verified" });
    return {
      facts: {
        duration_ms: made.duration_ms ?? durationMs ?? 0,
        audio_codec: "aac",
        channels: checked.streams[0]?.channels ?? 0,
      },
      warnings,
      metrics: { encode_ms: encodeMs },
      outputs: [{ kind: "proxy_audio", path: output, contentType: "audio/mp4" }],
    };
  },
};
