/**
 * What a generative provider is. The generate_image / generate_video handlers
 * parse the job, pick a provider by name and verify what it wrote; a provider
 * only turns one request into one file in the scratch dir, in the shape the
 * job type promises (a PNG of the exact size; an MP4 in the clip format with
 * exactly `frames` frames), so the handlers never care which provider ran.
 */
import type { Sampler } from "../../../worker/contracts/models";

/** What every request carries, from the job's params (worker/contracts/job-types.ts). */
export interface GenerationBase {
  prompt: string;
  negativePrompt: string;
  seed: number;
  /** Provider-specific model id; "local" (the params' default) means "the provider's configured one". */
  model: string;
  steps: number;
  guidance: number;
}

export interface ImageRequest extends GenerationBase {
  width: number;
  height: number;
  /** img2img: the given image (a path in the scratch dir); absent for txt2img. */
  image?: string;
  /** img2img: how far from the given image to move, 0..1. */
  strength: number;
  /** The contract's sampler name; absent in jobs older than the field (send none, the model picks). */
  sampler?: Sampler;
  /** CLIP layers skipped from the end, 1..12 (1 = none); absent like sampler. */
  clipSkip?: number;
}

export interface VideoRequest extends GenerationBase {
  /** Even sizes (H.264 yuv420p): the handler has already rounded the requested ones. */
  width: number;
  height: number;
  fps: number;
  frames: number;
  /** i2v: the first frame. */
  image?: string;
  /** How closely the clip starts on `image`, 0..1 (1: the first frame is the image). */
  imageStrength: number;
  /** The frame the clip should end on. */
  lastImage?: string;
  /** How closely the clip ends on `lastImage`, 0..1 (1: the last frame is the image). */
  lastImageStrength: number;
  /** A free-form lighting hint (≤ 64 characters), when the job gives one. */
  lightingVariant?: string;
  /** Frames the clip passes through: the picture at `path` shown at frame `index`, weighted by `strength`. */
  keyframes?: { path: string; index: number; strength: number }[];
}

export interface ProviderContext {
  /** The job's private dir: write every file here. */
  scratchDir: string;
  /** Aborted when the job must stop: pass it to child processes and requests, cancel remote work on it. */
  signal: AbortSignal;
  /** Fraction 0..1 of this generation, with a stage name ("queued", "generating", "rendering"...). */
  progress(fraction: number, stage: string, message?: string): void;
}

/** What a provider produced and what produced it, for the job's facts. */
export interface Generated {
  /** Inside the scratch dir: a PNG for images, a clip-format MP4 for videos. */
  path: string;
  provider: string;
  model: string;
  /** False when no generative model made it (the local provider), so nobody mistakes it for one. */
  isModel: boolean;
  warnings: string[];
}

export interface Provider {
  readonly name: string;
  /** Whether it honours VideoRequest.keyframes; others are never sent any. */
  readonly keyframes?: boolean;
  generateImage(request: ImageRequest, context: ProviderContext): Promise<Generated>;
  generateVideo(request: VideoRequest, context: ProviderContext): Promise<Generated>;
}
