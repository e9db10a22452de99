/**
 * The remote speech provider: an OpenAI-compatible `POST /v1/audio/speech`
 * ({model, input, voice, response_format, speed} → audio bytes). HTTP
 * failures become JobErrors whose `retryable` says whether another attempt
 * can help: a refused key or a rejected request cannot, throttling and
 * server trouble can.
 */
import { JobError } from "../errors";
import { errorDetail, saveBody } from "../providers/http";
import type { RemoteTtsConfig } from "./config";

/** Far more than 20,000 characters of speech as 24 kHz 16-bit WAV (~30 min ≈ 90 MB). */
const MAX_BYTES = 512 * 1024 * 1024;
/** espeak-ng's default rate, which OpenAI's speed 1.0 roughly matches. */
const NORMAL_WORDS_PER_MINUTE = 175;

export interface RemoteRequest {
  text: string;
  voice: string;
  wordsPerMinute: number;
}

/** The request body: words per minute become OpenAI's speed factor (0.25–4, 1 = normal). */
function speechRequestBody(config: RemoteTtsConfig, request: RemoteRequest): Record<string, unknown> {
  const speed = Math.min(4, Math.max(0.25, request.wordsPerMinute / NORMAL_WORDS_PER_MINUTE));
  return {
    model: config.model,
    input: request.text,
    voice: remoteVoice(config, request.voice),
    response_format: "wav",
    speed: Math.round(speed * 100) / 100,
  };
}

/** The voice sent: the job's, unless it left the contract's default ("en") and the bridge names another. */
export function remoteVoice(config: RemoteTtsConfig, voice: string): string {
  return voice === "en" && config.defaultVoice ? config.defaultVoice : voice;
}

/** Writes the server's audio bytes to `output` as they arrive. */
export async function remoteSynthesize(
  config: RemoteTtsConfig,
  request: RemoteRequest,
  output: string,
  signal: AbortSignal,
): Promise<void> {
  const deadline = AbortSignal.timeout(config.timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  let response: Response;
  try {
    response = await fetch(`${config.url}/v1/audio/speech`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "audio/wav, audio/*",
        ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
      },
      body: JSON.stringify(speechRequestBody(config, request)),
      signal: both,
    });
  } catch (error) {
    throw networkFailure(error, signal, deadline);
  }
  if (!response.ok) throw await httpFailure(response);
  if (!response.body) throw new JobError("tts_bad_output", "the TTS server answered with no body", false);
  try {
    const tooLarge = () => new JobError("tts_bad_output", "the TTS answer is too large", false);
    await saveBody(response.body, output, { maxBytes: MAX_BYTES, signal: both, tooLarge });
  } catch (error) {
    if (error instanceof JobError) throw error;
    throw networkFailure(error, signal, deadline);
  }
}

function networkFailure(error: unknown, signal: AbortSignal, deadline: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? error; // the job was stopped: not the server's fault
  if (deadline.aborted) return new JobError("tts_timeout", "the TTS server did not finish in time", true);
  const detail = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : "";
  return new JobError("tts_unreachable", `the TTS server could not be reached: ${detail}`, true);
}

/** 401/403: the key is wrong (final); 408/429/5xx: try later; any other 4xx: this request will never work. */
async function httpFailure(response: Response): Promise<JobError> {
  const said = errorDetail(await response.text().catch(() => ""));
  const detail = said ? `${response.status}: ${said}` : String(response.status);
  if (response.status === 401 || response.status === 403) {
    return new JobError("tts_unauthorized", `the TTS server refused the API key (${detail})`, false);
  }
  if (response.status === 429) return new JobError("tts_throttled", `the TTS server is throttling (${detail})`, true);
  if (response.status >= 500 || response.status === 408) {
    return new JobError("tts_unavailable", `the TTS server failed (${detail})`, true);
  }
  return new JobError("tts_rejected", `the TTS server rejected the request (${detail})`, false);
}
