/**
 * `speech.synthesize@1` (job type synthesize_speech): text → WAV.
 *
 * params.provider picks who speaks: "local" (the default) is espeak-ng on
 * this host, which is not a model and says so (is_model false); "remote" is
 * the OpenAI-compatible TTS server configured by GPU_BRIDGE_TTS_* (see
 * speech/config.ts). Either way ffmpeg rewrites the audio as 16-bit PCM WAV
 * with a plain header and exact sizes (a server streaming its WAV writes
 * placeholder sizes; a server may ignore response_format), then it is
 * verified with ffprobe.
 */
import path from "node:path";
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { toolVersion } from "../ffmpeg";
import { runFfmpeg, verifyOutput } from "../media/encode";
import { loadTtsConfig } from "../speech/config";
import { espeakSynthesize } from "../speech/espeak";
import { remoteSynthesize, remoteVoice } from "../speech/remote";
import { parseParams } from "./params";
import type { Handler, HandlerContext, HandlerResult } from "./types";

/** The handler, reading its remote provider's configuration from `env` at each detect() and run(). */
export function createSpeechHandler(env: NodeJS.ProcessEnv = process.env): Handler {
  return {
    capability: "speech.synthesize@1",
    jobType: "synthesize_speech",

    async detect(signal) {
      const [espeak, ffmpeg] = await Promise.all([
        toolVersion("espeak-ng", signal, ["--version"]),
        toolVersion("ffmpeg", signal),
      ]);
      const { remote, problem } = loadTtsConfig(env);
      const remoteDetail = remote ? `remote TTS ${remote.url} (model ${remote.model})` : `no remote TTS (${problem})`;
      if (!ffmpeg) return { available: false, detail: "ffmpeg not found on PATH (install ffmpeg)" };
      if (!espeak && !remote) return { available: false, detail: `espeak-ng not found on PATH, and ${remoteDetail}` };
      return { available: true, detail: `${espeak ?? "no espeak-ng"}; ${remoteDetail}` };
    },

    run: (context) => synthesize(context, env),
  };
}

export const speechHandler = createSpeechHandler();

async function synthesize(context: HandlerContext, env: NodeJS.ProcessEnv): Promise<HandlerResult> {
  const started = performance.now();
  const { signal } = context;
  const { text, voice, speed, provider } = parseParams(JOB_TYPES.synthesize_speech.params, context);
  const request = { text, voice, wordsPerMinute: speed };
  const raw = path.join(context.scratchDir, "speech-raw.wav");
  const output = path.join(context.scratchDir, "speech.wav");

  context.progress({ fraction: 0, stage: "synthesizing", message: `${provider}, ${text.length} characters` });
  let spoken: { voice: string; isModel: boolean; model?: string };
  if (provider === "local") {
    await espeakSynthesize(request, raw, signal);
    spoken = { voice, isModel: false };
  } else {
    const { remote, problem } = loadTtsConfig(env);
    // Not retryable: the job would land on this same bridge, configured the same way.
    if (!remote) throw new JobError("provider_unavailable", `no remote TTS on this bridge: ${problem}`, false);
    await remoteSynthesize(remote, request, raw, signal);
    spoken = { voice: remoteVoice(remote, voice), isModel: true, model: remote.model };
  }
  const synthMs = Math.round(performance.now() - started);

  context.progress({ fraction: 0.8, stage: "verifying", message: "rewriting as PCM WAV" });
  // bitexact and no metadata: the plain 44-byte header that naive WAV readers assume.
  const rewrite = ["-i", raw, "-map", "0:a:0", "-map_metadata", "-1", "-fflags", "+bitexact", "-c:a", "pcm_s16le"];
  await runFfmpeg([...rewrite, "-f", "wav", output], { signal }).catch((error: unknown) => {
    // What the remote server sent is not audio ffmpeg can read: the server's doing, not this host's.
    if (error instanceof JobError && error.code === "unreadable_media" && provider === "remote") {
      throw new JobError("tts_bad_output", `the TTS server's answer is not audio: ${error.message}`, false);
    }
    throw error;
  });
  const probe = await verifyOutput(output, { audio: { codec: "pcm_s16le" } }, signal);
  const durationMs = Math.round(Number(probe.format?.duration ?? 0) * 1000);
  if (!(durationMs > 0)) throw new JobError("output_invalid", "the synthesized speech is empty", true);
  context.progress({ fraction: 1, stage: "verifying", message: `${(durationMs / 1000).toFixed(1)} s of speech` });

  return {
    facts: { duration_ms: durationMs, provider, voice: spoken.voice, is_model: spoken.isModel },
    warnings: [],
    // The facts have no place for the model: it goes with the metrics.
    metrics: {
      synth_ms: synthMs,
      total_ms: Math.round(performance.now() - started),
      ...(spoken.model ? { model: spoken.model } : {}),
    },
    outputs: [{ kind: "audio", path: output, contentType: "audio/wav" }],
  };
}
