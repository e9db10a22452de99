/**
 * A validated generation as the engine runs it and as contract 000 remembers
 * it: the job (its type, the params the model's provider gets, its inputs) and
 * the record kept on the task (`tasks.request`), which status and the gallery
 * render. The seed is settled here: -1 becomes a random one, recorded.
 */
import type { Config } from "../../config";
import type { JobType } from "../../contracts/job-types";
import {
  type GenerationMode,
  type GenerationType,
  IMAGE_FIELDS,
  MODE_IMAGES,
  type ModelId,
  type VideoParams,
} from "../../contracts/models";
import type { NewJob } from "../jobs/dispatch";
import type { StoredImages } from "./images";
import type { GenerationRequest } from "./request";

export const JOB_TYPE_OF = {
  image: "generate_image",
  video: "generate_video",
} as const satisfies Record<GenerationType, JobType>;

/** What `tasks.request` holds for a 000 task. */
export interface GenerationRecord {
  model: ModelId;
  label: string;
  type: GenerationType;
  mode: GenerationMode;
  prompt: string;
  negative_prompt: string;
  /** Every other parameter as applied (defaults filled, the seed settled, images as artifact ids). */
  parameters: Record<string, unknown> & { width: number; height: number; seed: number };
  /** Artifacts stored from this request's data URIs: deleted with the task. */
  stored_inputs: string[];
  ignored: string[];
}

interface ProviderRoute {
  provider: string;
  model: string;
}

/** How long a generation of this type may wait to start (GENERATION_IMAGE_QUEUE_S / _VIDEO_). */
export function queueLimitS(config: Config, type: GenerationType): number {
  return type === "video" ? config.GENERATION_VIDEO_QUEUE_S : config.GENERATION_IMAGE_QUEUE_S;
}

/** Where GENERATION_PROVIDERS sends a model; the bridge's local provider by default. */
export function providerRoute(config: Config, model: ModelId): ProviderRoute {
  return config.GENERATION_PROVIDERS[model] ?? { provider: "local", model: "local" };
}

/** Request fields the record keeps on their own (prompts) or as artifact ids (images). */
const KEPT_ELSEWHERE: readonly string[] = ["prompt", "negative_prompt", ...IMAGE_FIELDS];

export function settleSeed(seed: number): number {
  // Any 32-bit unsigned value is a valid seed (0..MAX_SEED).
  return seed === -1 ? (crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) : seed;
}

/**
 * The weights of the job's `image` and `last_image` inputs, which each mode
 * names its own way; 1 (the job's default) where the mode has no such image.
 */
function imageStrengths(
  mode: GenerationMode,
  params: VideoParams,
): { image_strength: number; last_image_strength: number } {
  if (mode === "i2v") return { image_strength: params.reference_strength, last_image_strength: 1 };
  if (mode === "first_last_frame") {
    return { image_strength: params.first_strength, last_image_strength: params.last_strength };
  }
  return { image_strength: 1, last_image_strength: 1 };
}

export function planGeneration(
  request: GenerationRequest,
  seed: number,
  route: ProviderRoute,
  images: StoredImages,
): { job: NewJob; record: GenerationRecord } {
  const { prompt, negative_prompt, steps, guidance_scale, width, height } = request.params;
  const base = {
    prompt,
    negative_prompt,
    seed,
    provider: route.provider,
    model: route.model,
    steps,
    guidance: guidance_scale,
    width,
    height,
  };
  // The mode's image fields, as the artifacts they became (keyframes are recorded with their frames below).
  const imageIds: Record<string, unknown> = {};
  for (const { field, input } of MODE_IMAGES[request.mode]) imageIds[field] = images.inputs[input];

  const parameters: Record<string, unknown> = Object.fromEntries(
    Object.entries(request.params).filter(([key]) => !KEPT_ELSEWHERE.includes(key)),
  );
  let job: NewJob;
  if (request.type === "image") {
    job = {
      jobType: JOB_TYPE_OF.image,
      params: {
        ...base,
        strength: request.params.denoising_strength,
        sampler: request.params.sampler,
        clip_skip: request.params.clip_skip,
      },
      inputs: images.inputs,
    };
  } else {
    const { arbitrary_frames } = request.params;
    if (arbitrary_frames) {
      parameters.arbitrary_frames = arbitrary_frames.map((frame) => ({
        frame_index: frame.frame_index,
        strength: frame.strength,
        image: images.inputs[`frame_${frame.frame_index}`],
      }));
    }
    job = {
      jobType: JOB_TYPE_OF.video,
      params: {
        ...base,
        fps: request.params.fps,
        frames: request.params.num_frames,
        ...imageStrengths(request.mode, request.params),
        lighting_variant: request.params.lighting_variant,
        keyframes: (arbitrary_frames ?? []).map((frame) => ({
          input: `frame_${frame.frame_index}`,
          index: frame.frame_index,
          strength: frame.strength,
        })),
      },
      inputs: images.inputs,
    };
  }
  return {
    job,
    record: {
      model: request.model,
      label: request.label,
      type: request.type,
      mode: request.mode,
      prompt,
      negative_prompt,
      parameters: { ...parameters, ...imageIds, width, height, seed },
      stored_inputs: images.stored.map((artifact) => artifact.id),
      ignored: request.ignored,
    },
  };
}
