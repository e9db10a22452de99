/**
 * The remote TTS provider's configuration, from the environment. Unset
 * GPU_BRIDGE_TTS_URL means no remote provider (espeak-ng only); a bad value
 * disables the remote provider and says why (doctor shows it through the
 * handler's detect()), without taking espeak-ng down with it.
 */

import { z } from "zod";
import { plainHttpSecret } from "../providers/config";

export interface RemoteTtsConfig {
  /** Origin (and optional path prefix) of an OpenAI-compatible server, no trailing slash: requests go to `${url}/v1/audio/speech`. */
  url: string;
  apiKey: string | undefined;
  model: string;
  /** Sent instead of the contract's default voice "en" (an espeak-ng language that a remote server will not know). */
  defaultVoice: string | undefined;
  timeoutMs: number;
}

export const ttsEnvSchema = z.object({
  GPU_BRIDGE_TTS_URL: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  GPU_BRIDGE_TTS_API_KEY: z.string().trim().min(1).optional(),
  GPU_BRIDGE_TTS_MODEL: z.string().trim().min(1).max(128).default("tts-1"),
  GPU_BRIDGE_TTS_VOICE: z.string().trim().min(1).max(64).optional(),
  GPU_BRIDGE_TTS_TIMEOUT_S: z.coerce.number().int().min(1).max(3600).default(300),
});

const NAMES = Object.keys(ttsEnvSchema.shape) as (keyof typeof ttsEnvSchema.shape)[];

/** The remote provider, or null with the reason (unset, or which variables are wrong; the key is never echoed). */
export function loadTtsConfig(
  env: NodeJS.ProcessEnv,
): { remote: RemoteTtsConfig; problem: null } | { remote: null; problem: string } {
  const present = Object.fromEntries(NAMES.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
  const parsed = ttsEnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`);
    return { remote: null, problem: problems.join("; ") };
  }
  const vars = parsed.data;
  if (!vars.GPU_BRIDGE_TTS_URL) return { remote: null, problem: "GPU_BRIDGE_TTS_URL is not set" };
  const unsafe = plainHttpSecret("GPU_BRIDGE_TTS_URL", vars.GPU_BRIDGE_TTS_URL, Boolean(vars.GPU_BRIDGE_TTS_API_KEY));
  if (unsafe) return { remote: null, problem: unsafe };
  return {
    remote: {
      url: vars.GPU_BRIDGE_TTS_URL.replace(/\/+$/, ""),
      apiKey: vars.GPU_BRIDGE_TTS_API_KEY,
      model: vars.GPU_BRIDGE_TTS_MODEL,
      defaultVoice: vars.GPU_BRIDGE_TTS_VOICE,
      timeoutMs: vars.GPU_BRIDGE_TTS_TIMEOUT_S * 1000,
    },
    problem: null,
  };
}
