/**
 * Contract 000's model catalog, the one place that says which models exist:
 * canonical ids and the aliases clients may send instead (`wan-remix` is
 * `phr00t`), each model's type and modes, and its parameter rules as zod
 * schemas with defaults and limits. POST /generate validates with these
 * schemas and GET /models renders them as JSON Schema, so the form a client
 * builds and the check the server makes cannot drift apart. Which provider
 * runs a model is configuration (GENERATION_PROVIDERS in worker/config.ts).
 * Only zod is imported.
 */
import { z } from "zod";

const VIDEO_MODES = ["t2v", "i2v", "first_last_frame", "arbitrary_frame"] as const;
const IMAGE_MODES = ["txt2img", "img2img"] as const;
export type VideoMode = (typeof VIDEO_MODES)[number];
export type ImageMode = (typeof IMAGE_MODES)[number];
export type GenerationMode = VideoMode | ImageMode;
export type GenerationType = "image" | "video";

/** Each reference image, decoded, is at most this large; larger ones go through the upload API. */
export const REFERENCE_IMAGE_MAX_BYTES = 12 * 1024 * 1024;
const REFERENCE_IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;
/** Most keyframes one arbitrary_frame request may pin. */
const MAX_KEYFRAMES = 8;
/** The largest seed; -1 asks the server to pick one (and record it). */
export const MAX_SEED = 2 ** 32 - 1;

/** The request fields that carry images (each becomes an artifact before dispatch). */
export const IMAGE_FIELDS = ["reference_image", "first_frame_image", "last_frame_image", "arbitrary_frames"] as const;

const DATA_URI = /^data:([a-z]+\/[a-z0-9.+-]+);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ARTIFACT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A reference image as the request gives it: inline bytes, or an artifact the caller uploaded. */
export type ImageSource =
  | { kind: "data"; contentType: (typeof REFERENCE_IMAGE_TYPES)[number]; base64: string; sizeBytes: number }
  | { kind: "artifact"; artifactId: string };

/** Reads a data URI or an artifact id without decoding anything; a string describing the problem otherwise. */
function readImageSource(value: string): ImageSource | string {
  if (ARTIFACT_ID.test(value)) return { kind: "artifact", artifactId: value.toLowerCase() };
  const header = DATA_URI.exec(value);
  if (!header) return "expected a data URI (data:image/png;base64,…) or the artifact_id of a completed upload";
  const contentType = header[1]?.toLowerCase() as (typeof REFERENCE_IMAGE_TYPES)[number];
  if (!REFERENCE_IMAGE_TYPES.includes(contentType)) {
    return `unsupported image type ${header[1]}; expected ${REFERENCE_IMAGE_TYPES.join(", ")}`;
  }
  const base64 = value.slice(header[0].length);
  // Decoded size from the length alone: the limit is checked before a byte is decoded.
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  const sizeBytes = Math.floor((base64.length * 3) / 4) - padding;
  if (sizeBytes > REFERENCE_IMAGE_MAX_BYTES) {
    return `the image is ${sizeBytes} bytes decoded, over the ${REFERENCE_IMAGE_MAX_BYTES} allowed inline; upload it (POST /uploads/init) and send its artifact_id`;
  }
  if (sizeBytes <= 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) return "the data URI is not valid base64";
  return { kind: "data", contentType, base64, sizeBytes };
}

/** A string on the wire (and in GET /models), read once into its ImageSource when validated. */
const imageSource = z
  .string()
  .transform((value, ctx): ImageSource => {
    const read = readImageSource(value);
    if (typeof read !== "string") return read;
    ctx.addIssue({ code: "custom", message: read });
    return z.NEVER;
  })
  .meta({
    description: `A data URI (${REFERENCE_IMAGE_TYPES.join(", ")}; at most ${REFERENCE_IMAGE_MAX_BYTES} bytes decoded) or the artifact_id of an upload you completed`,
  });

const size = (fallback: number) =>
  z
    .number()
    .int()
    .min(256)
    .max(2048)
    .multipleOf(16)
    .default(fallback)
    .meta({ description: "Pixels, a multiple of 16" });

/** Fields every model takes. */
const shared = {
  prompt: z.string().trim().min(1, "must not be blank").max(2000),
  negative_prompt: z.string().max(1000).default(""),
  width: size(720),
  height: size(1280),
  seed: z
    .number()
    .int()
    .min(-1)
    .max(MAX_SEED)
    .default(-1)
    .meta({ description: "-1: the server picks one and records it (status and gallery show it)" }),
};

/** A fixed value (the model is distilled for it) or a range with a default. */
type Rule = { fixed: number } | { min: number; max: number; default: number; int?: boolean };

function ruled(rule: Rule, description: string) {
  if ("fixed" in rule) {
    return z
      .literal(rule.fixed)
      .default(rule.fixed)
      .meta({ description: `${description}; this model runs only at ${rule.fixed}` });
  }
  const base = rule.int ? z.number().int() : z.number();
  return base.min(rule.min).max(rule.max).default(rule.default).meta({ description });
}

const strength = (fallback: number, description: string) =>
  z.number().min(0).max(1).default(fallback).meta({ description });

const keyframe = z
  .object({
    frame_index: z.number().int().min(0).max(160),
    image: imageSource,
    strength: strength(1, "How closely the clip holds this frame, 0..1"),
  })
  .strict();

interface Rules {
  steps: Rule;
  guidance: Rule;
}

/** Every video model's fields; a model without arbitrary_frame omits arbitrary_frames. */
function videoParams(rules: Rules) {
  return z.object({
    ...shared,
    num_frames: z
      .number()
      .int()
      .min(5)
      .max(241)
      .default(81)
      .refine((frames) => (frames - 1) % 4 === 0, "must be 4k+1 (5, 9, … 81, … 241)")
      .meta({ description: "Frames in the clip, 4k+1 (the model's temporal stride)" }),
    fps: z.number().int().min(4).max(60).default(16),
    steps: ruled({ int: true, ...rules.steps }, "Denoising steps"),
    guidance_scale: ruled(rules.guidance, "Classifier-free guidance (alias: cfg_scale, cfg)"),
    output_format: z.enum(["mp4"]).default("mp4"),
    lighting_variant: z.string().trim().min(1).max(64).optional(),
    reference_image: imageSource.optional().meta({ description: "i2v: the first frame" }),
    reference_strength: strength(1, "i2v: how closely the clip starts on reference_image"),
    first_frame_image: imageSource.optional().meta({ description: "first_last_frame: the first frame" }),
    last_frame_image: imageSource.optional().meta({ description: "first_last_frame: the last frame" }),
    first_strength: strength(1, "first_last_frame: weight of the first frame"),
    last_strength: strength(1, "first_last_frame: weight of the last frame"),
    arbitrary_frames: z
      .array(keyframe)
      .min(1)
      .max(MAX_KEYFRAMES)
      .optional()
      .meta({ description: "arbitrary_frame: frames pinned at chosen indexes (each below num_frames)" }),
  });
}

/** Sampler names as clients send them; the generate_image job carries the same names (job-types.ts). */
export const SAMPLERS = ["euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "dpmpp_sde", "ddim", "lcm"] as const;
export type Sampler = (typeof SAMPLERS)[number];

function imageParams(rules: Rules) {
  return z.object({
    ...shared,
    steps: ruled({ int: true, ...rules.steps }, "Denoising steps"),
    guidance_scale: ruled(rules.guidance, "Classifier-free guidance (alias: cfg_scale, cfg)"),
    output_format: z.enum(["png"]).default("png"),
    sampler: z.enum(SAMPLERS).default("euler_a"),
    clip_skip: z.number().int().min(1).max(12).default(2),
    reference_image: imageSource.optional().meta({ description: "img2img: the image to start from" }),
    denoising_strength: strength(0.6, "img2img: how far from reference_image to move (0 = keep it)"),
  });
}

export type VideoParams = z.output<ReturnType<typeof videoParams>>;
export type ImageParams = z.output<ReturnType<typeof imageParams>>;

interface ModelBase {
  /** Shown to people; the id is what clients send. */
  name: string;
  description: string;
  aliases: readonly string[];
}
export type ModelSpec = ModelBase &
  (
    | { type: "video"; modes: readonly VideoMode[]; params: z.ZodType<VideoParams> }
    | { type: "image"; modes: readonly ImageMode[]; params: z.ZodType<ImageParams> }
  );

/** The original's four models; step counts are the fixed ones its schema enforced. */
export const MODELS = {
  anisora: {
    name: "AniSora (Wan2.1-T2V-14B)",
    description: "Anime video, 8-step distilled; the only model that pins frames at arbitrary indexes.",
    aliases: [],
    type: "video",
    modes: ["t2v", "i2v", "first_last_frame", "arbitrary_frame"],
    params: videoParams({ steps: { fixed: 8 }, guidance: { min: 0, max: 20, default: 4 } }),
  },
  phr00t: {
    name: "WAN2.2 Rapid AllInOne (phr00t)",
    description: "Fast general video, 4 steps at guidance 1.0.",
    aliases: ["wan-remix"],
    type: "video",
    modes: ["t2v", "i2v", "first_last_frame"],
    params: videoParams({ steps: { fixed: 4 }, guidance: { fixed: 1 } }).omit({ arbitrary_frames: true }),
  },
  pony: {
    name: "Pony Diffusion V6 XL",
    description: "Stylised images (SDXL).",
    aliases: [],
    type: "image",
    modes: ["txt2img", "img2img"],
    params: imageParams({ steps: { min: 1, max: 100, default: 30 }, guidance: { min: 1, max: 20, default: 7 } }),
  },
  flux: {
    name: "FLUX.1-dev (NF4)",
    description: "Photographic and general images.",
    aliases: [],
    type: "image",
    modes: ["txt2img", "img2img"],
    params: imageParams({ steps: { min: 1, max: 100, default: 50 }, guidance: { min: 0, max: 10, default: 3.5 } }),
  },
} as const satisfies Record<string, ModelSpec>;

export type ModelId = keyof typeof MODELS;
export const MODEL_IDS = Object.keys(MODELS) as [ModelId, ...ModelId[]];

/** Canonical id for an id or an alias, any case; undefined when no model answers to it. */
export function canonicalModel(label: string): ModelId | undefined {
  const wanted = label.trim().toLowerCase();
  return MODEL_IDS.find((id) => id === wanted || (MODELS[id] as ModelSpec).aliases.some((alias) => alias === wanted));
}

export function modelSpec(id: ModelId): ModelSpec {
  return MODELS[id];
}

/** Every name a client may send: ids, then aliases. */
export function modelLabels(): string[] {
  return [...MODEL_IDS, ...MODEL_IDS.flatMap((id) => (MODELS[id] as ModelSpec).aliases)];
}

/** The request's image fields each mode needs, and the job input each one becomes. */
export const MODE_IMAGES: Record<
  GenerationMode,
  readonly { field: "reference_image" | "first_frame_image" | "last_frame_image"; input: "image" | "last_image" }[]
> = {
  t2v: [],
  txt2img: [],
  i2v: [{ field: "reference_image", input: "image" }],
  img2img: [{ field: "reference_image", input: "image" }],
  first_last_frame: [
    { field: "first_frame_image", input: "image" },
    { field: "last_frame_image", input: "last_image" },
  ],
  // Its images are the keyframes (arbitrary_frames), one input each.
  arbitrary_frame: [],
};

/** Aliases of guidance_scale the original accepted. */
export const GUIDANCE_ALIASES = ["cfg_scale", "cfg"] as const;
