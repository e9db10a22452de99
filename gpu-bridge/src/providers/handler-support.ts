import { toolVersion } from "../ffmpeg";
import type { Detection, HandlerContext } from "../handlers/types";
import { createProviderRegistry, type ProviderRegistry } from "./registry";
import type { ProviderContext } from "./types";

/** Provider progress fills this much of the handler's; verifying the output takes the rest. */
const GENERATION_SHARE = 0.95;

/** Read at each job, so a changed environment (a restart with new variables) is seen by the next one. */
export function registryFromEnv(): ProviderRegistry {
  return createProviderRegistry(process.env);
}

/** Every provider ends with ffmpeg (rendering or normalising) and ffprobe (verification). */
export async function detectGeneration(registry: () => ProviderRegistry, signal?: AbortSignal): Promise<Detection> {
  const [ffmpeg, ffprobe] = await Promise.all([toolVersion("ffmpeg", signal), toolVersion("ffprobe", signal)]);
  if (!ffmpeg || !ffprobe) return { available: false, detail: "ffmpeg/ffprobe not found on PATH (install ffmpeg)" };
  return { available: true, detail: `${ffmpeg}; providers: ${registry().names().join(", ")}` };
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
