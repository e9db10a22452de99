/**
 * The handler registry: every handler this bridge build knows. Registration
 * declares the capabilities of those whose detect() succeeds on this host, so
 * the Worker only offers jobs the bridge can actually run.
 */
import { JOB_TYPES, type JobType } from "../../../worker/contracts/job-types";
import { composeHandler } from "./compose";
import { generateImageHandler } from "./generate-image";
import { generateVideoHandler } from "./generate-video";
import { mediaFactsHandler } from "./media-facts";
import { proxyAudioHandler } from "./proxy-audio";
import { proxyVideoHandler } from "./proxy-video";
import { speechHandler } from "./speech";
import { thumbnailsHandler } from "./thumbnails";
import type { Detection, Handler } from "./types";
import { waveformHandler } from "./waveform";

export const HANDLERS: readonly Handler[] = [
  mediaFactsHandler,
  thumbnailsHandler,
  proxyVideoHandler,
  proxyAudioHandler,
  waveformHandler,
  generateImageHandler,
  generateVideoHandler,
  composeHandler,
  speechHandler,
];

export interface DetectedHandler {
  handler: Handler;
  detection: Detection;
}

/** Runs every detect(); a detect that throws counts as unavailable, with its error as the detail. */
export async function detectHandlers(handlers: readonly Handler[], signal?: AbortSignal): Promise<DetectedHandler[]> {
  return Promise.all(
    handlers.map(async (handler) => {
      assertDeclared(handler);
      try {
        return { handler, detection: await handler.detect(signal) };
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        return { handler, detection: { available: false, detail } };
      }
    }),
  );
}

/** The available handlers by job type, and the capabilities to register. */
export function runnable(detected: readonly DetectedHandler[]): {
  byJobType: Map<JobType, Handler>;
  capabilities: string[];
} {
  const byJobType = new Map<JobType, Handler>();
  for (const { handler, detection } of detected) {
    if (detection.available && !byJobType.has(handler.jobType)) byJobType.set(handler.jobType, handler);
  }
  const capabilities = [...new Set([...byJobType.values()].map((handler) => handler.capability))].sort();
  return { byJobType, capabilities };
}

/**
 * The Worker offers a job only to agents declaring every capability its type
 * requires; a handler declares one, so it must be the type's only requirement.
 */
function assertDeclared(handler: Handler): void {
  const required: readonly string[] = JOB_TYPES[handler.jobType].capabilities;
  if (required.length !== 1 || required[0] !== handler.capability) {
    throw new Error(`handler ${handler.capability} does not cover ${handler.jobType}'s capabilities (${required})`);
  }
}
