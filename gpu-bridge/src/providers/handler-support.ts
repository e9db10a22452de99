import type { Detection, HandlerContext } from "../handlers/types";
import { detectFfmpeg } from "../media/encoders";
import { createProviderRegistry, type ProviderRegistry } from "./registry";
import type { GenerationBase, ProviderContext } from "./types";

/** Provider progress fills this much of the handler's; verifying the output takes the rest. */
const GENERATION_SHARE = 0.95;

/** Read at each job, so a changed environment (a restart with new variables) is seen by the next one. */
export function registryFromEnv(): ProviderRegistry {
  return createProviderRegistry(process.env);
}

/** Every provider ends with ffmpeg (rendering or normalising) and ffprobe (verification). */
export async function detectGeneration(registry: () => ProviderRegistry, signal?: AbortSignal): Promise<Detection> {
  const tools = await detectFfmpeg(signal);
  if (!tools.available) return tools;
  return { available: true, detail: `${tools.detail}; providers: ${registry().names().join(", ")}` };
}

/** What every request carries, from the params both generate job types share. */
export function generationBase(params: {
  prompt: string;
  negative_prompt: string;
  seed: number;
  model: string;
  steps: number;
  guidance: number;
}): GenerationBase {
  const { prompt, negative_prompt, seed, model, steps, guidance } = params;
  return { prompt, negativePrompt: negative_prompt, seed, model, steps, guidance };
}

export function providerContext(context: HandlerContext): ProviderContext {
  return {
    scratchDir: context.scratchDir,
    signal: context.signal,
    progress: (fraction, stage, message) =>
      context.progress({ fraction: Math.max(0, Math.min(1, fraction)) * GENERATION_SHARE, stage, message }),
  };
}

export function verifying(context: HandlerContext): void {
  context.progress({ fraction: GENERATION_SHARE, stage: "verifying", message: "ffprobe" });
}
