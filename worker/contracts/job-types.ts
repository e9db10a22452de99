/**
 * The job types every surface dispatches and every GPU bridge runs. A job type
 * names the capabilities (contract 003's `domain.function@N`) an agent must
 * declare to see it, the inputs it reads and the result it must submit.
 * Only zod and the model catalog (zod only itself, for its sampler names) are
 * imported: the Worker and the GPU bridge both read this table.
 */
import { z } from "zod";
import { SAMPLERS } from "./models";

/** `domain.function@N`: dotted lower-case words, then a major version. */
export const CAPABILITY_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+@[1-9][0-9]*$/;
export const capabilitySchema = z.string().max(96).regex(CAPABILITY_PATTERN, "expected domain.function@N");

/** contract 003 FactsPatch: exactly these keys, all from ffprobe. */
export const mediaFactsSchema = z
  .object({
    duration_ms: z.number().int().nonnegative().nullable(),
    media_format: z.string().max(128).nullable(),
    video_codec: z.string().max(64).nullable(),
    audio_codec: z.string().max(64).nullable(),
    width: z.number().int().positive().nullable(),
    height: z.number().int().positive().nullable(),
    fps: z.number().nonnegative().nullable(),
  })
  .strict();
export type MediaFacts = z.infer<typeof mediaFactsSchema>;

/** Which named input artifacts a job type takes. */
export interface InputRule {
  required: readonly string[];
  optional?: readonly string[];
  /** Further names allowed (e.g. numbered clips); the params say how they are used. */
  pattern?: RegExp;
  /** Most inputs one job may name. */
  max?: number;
  /** Inputs the params refer to by name (each must be given, and every pattern-named input referred to). */
  named?: (params: Record<string, unknown>) => readonly string[];
}

/** One file a job must upload and list in its derived_manifest. */
export interface OutputSpec {
  kind: string;
  contentTypes: readonly string[];
}

export interface JobTypeSpec {
  description: string;
  /** Every one must be declared by an agent for it to see or claim the job. */
  capabilities: readonly string[];
  /** Named input artifacts the job reads (downloaded through the agent API). */
  inputs: InputRule;
  /** Files the job uploads through the chunked upload API, one manifest entry each. */
  outputs: readonly OutputSpec[];
  /** Parameters the dispatcher sends, validated before the job is written. */
  params: z.ZodType<Record<string, unknown>>;
  /** What `result.facts` must look like on submit; null when the type reports no facts. */
  facts: z.ZodType<Record<string, unknown>> | null;
  /** JobBoard shards for this type: raise for hot types so one object never carries the fleet. */
  shards: number;
}

const seconds = z
  .number()
  .nonnegative()
  .max(24 * 3600);
const seed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
/** Generative providers say what they are; the local one says it is not a model. */
const providerFacts = {
  provider: z.string().max(64),
  model: z.string().max(128),
  is_model: z.boolean(),
  seed,
};
const pixels = z.number().int().positive().max(8192);

/** Timed text drawn over the composition (drawtext with expansion=none: no injection through text). */
export const overlaySchema = z
  .object({
    text: z.string().min(1).max(500),
    start_s: seconds,
    end_s: seconds,
    position: z.enum(["top", "center", "bottom"]).default("bottom"),
    font_size: z.number().int().min(8).max(200).default(48),
    color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/)
      .default("#ffffff"),
  })
  .strict()
  .refine((overlay) => overlay.end_s > overlay.start_s, { message: "end_s must be after start_s", path: ["end_s"] });

/** A 512 px JPEG (the longer side; never upscaled) of the image, or of a clip's first frame. */
const previewOutput = { kind: "preview", contentTypes: ["image/jpeg"] } as const;
/** Keyframe inputs of generate_video, one per pinned frame: `frame_<index>`. */
const KEYFRAME_INPUT = /^frame_[0-9]{1,3}$/;

const generateBase = {
  prompt: z.string().trim().min(1).max(4000),
  negative_prompt: z.string().max(4000).default(""),
  seed,
  /** Provider name configured on the bridge; "local" is the offline default. */
  provider: z.string().max(64).default("local"),
  /** Provider-specific model id; the local provider ignores it. */
  model: z.string().max(128).default("local"),
  steps: z.number().int().min(1).max(200).default(30),
  guidance: z.number().min(0).max(50).default(7),
};

export const JOB_TYPES = {
  extract_facts: {
    description: "Probe one media file with ffprobe: duration, container, codecs, size, frame rate.",
    capabilities: ["media.facts@1"],
    inputs: { required: ["source"] },
    outputs: [],
    params: z.object({}).strict(),
    facts: mediaFactsSchema,
    shards: 1,
  },
  make_thumbnail: {
    description: "A JPEG thumbnail, 480 px wide (never upscaled), taken at max(1 s, 10 % of the duration).",
    capabilities: ["media.thumbnails@1"],
    inputs: { required: ["source"] },
    outputs: [{ kind: "thumb", contentTypes: ["image/jpeg"] }],
    params: z.object({ width: z.number().int().min(16).max(1920).default(480) }).strict(),
    facts: z.object({ width: pixels, height: pixels, at_ms: z.number().int().nonnegative() }).strict(),
    shards: 1,
  },
  proxy_video: {
    description: "An H.264 yuv420p proxy ≤ 720p (never upscaled), CRF ~23, keyframes ≤ 2 s, AAC, faststart.",
    capabilities: ["media.proxies.video@1"],
    inputs: { required: ["source"] },
    outputs: [{ kind: "proxy_video", contentTypes: ["video/mp4"] }],
    params: z.object({ max_height: z.number().int().min(144).max(720).default(720) }).strict(),
    facts: z
      .object({
        width: pixels,
        height: pixels,
        fps: z.number().positive(),
        duration_ms: z.number().int().nonnegative(),
        video_codec: z.literal("h264"),
        audio_codec: z.string().max(64).nullable(),
        encoder: z.string().max(64),
      })
      .strict(),
    shards: 1,
  },
  proxy_audio: {
    description: "An AAC audio proxy (m4a, 128 kb/s, faststart) of the source's first audio stream.",
    capabilities: ["media.proxies.audio@1"],
    inputs: { required: ["source"] },
    outputs: [{ kind: "proxy_audio", contentTypes: ["audio/mp4"] }],
    params: z.object({ bitrate_kbps: z.number().int().min(32).max(320).default(128) }).strict(),
    facts: z
      .object({
        duration_ms: z.number().int().nonnegative(),
        audio_codec: z.literal("aac"),
        channels: z.number().int().positive(),
      })
      .strict(),
    shards: 1,
  },
  waveform: {
    description: "Peaks of the first audio stream as JSON {duration_ms, buckets, peaks[0..1]}.",
    capabilities: ["audio.waveform@1"],
    inputs: { required: ["source"] },
    outputs: [{ kind: "waveform", contentTypes: ["application/json"] }],
    params: z.object({ buckets: z.number().int().min(10).max(10_000).default(1000) }).strict(),
    facts: z.object({ duration_ms: z.number().int().nonnegative(), buckets: z.number().int().positive() }).strict(),
    shards: 1,
  },
  generate_image: {
    description: "An image from a prompt (txt2img) or from a given image (img2img), through a provider.",
    capabilities: ["image.generate@1"],
    inputs: { required: [], optional: ["image"] },
    outputs: [{ kind: "image", contentTypes: ["image/png"] }, previewOutput],
    params: z
      .object({
        ...generateBase,
        width: z.number().int().min(16).max(4096),
        height: z.number().int().min(16).max(4096),
        /** img2img: how far from the given image to move, 0..1. */
        strength: z.number().min(0).max(1).default(0.6),
        // Optional, not defaulted: jobs written before they existed still parse, and a provider then sends none.
        sampler: z.enum(SAMPLERS).optional(),
        /** CLIP layers skipped from the end (1 = none). */
        clip_skip: z.number().int().min(1).max(12).optional(),
      })
      .strict(),
    facts: z.object({ ...providerFacts, width: pixels, height: pixels }).strict(),
    shards: 1,
  },
  generate_video: {
    description:
      "A video clip from a prompt (t2v), starting from a given image (i2v), ending on another, or passing through keyframes, through a provider.",
    capabilities: ["video.generate@1"],
    inputs: {
      required: [],
      optional: ["image", "last_image"],
      pattern: KEYFRAME_INPUT,
      max: 18,
      named: (params) =>
        Array.isArray(params.keyframes)
          ? params.keyframes.map((keyframe: { input?: unknown }) => String(keyframe.input))
          : [],
    },
    outputs: [{ kind: "video", contentTypes: ["video/mp4"] }, previewOutput],
    params: z
      .object({
        ...generateBase,
        width: z.number().int().min(16).max(4096),
        height: z.number().int().min(16).max(4096),
        fps: z.number().int().min(1).max(120),
        frames: z.number().int().min(1).max(2000),
        /** Weight of input `image`, 0..1 (i2v's reference_strength, first_last_frame's first_strength). */
        image_strength: z.number().min(0).max(1).default(1),
        /** Weight of input `last_image`, 0..1 (first_last_frame's last_strength). */
        last_image_strength: z.number().min(0).max(1).default(1),
        /** A free-form lighting hint, passed to providers that take one. */
        lighting_variant: z.string().trim().min(1).max(64).optional(),
        /** Frames the clip passes through: the input named `input` shown at frame `index`, weighted by `strength`. */
        keyframes: z
          .array(
            z
              .object({
                input: z.string().regex(KEYFRAME_INPUT),
                index: z.number().int().min(0).max(1999),
                strength: z.number().min(0).max(1).default(1),
              })
              .strict(),
          )
          .max(16)
          .default([])
          .refine((keyframes) => new Set(keyframes.map((k) => k.index)).size === keyframes.length, {
            message: "two keyframes at one index",
          }),
      })
      .strict()
      .refine((params) => params.keyframes.every((keyframe) => keyframe.index < params.frames), {
        message: "every keyframe index must be below frames",
        path: ["keyframes"],
      }),
    facts: z
      .object({
        ...providerFacts,
        width: pixels,
        height: pixels,
        fps: z.number().positive(),
        frames: z.number().int().positive(),
        duration_ms: z.number().int().nonnegative(),
        /** Requested sizes are rounded to what H.264 yuv420p needs (even); the request is kept here. */
        requested_width: pixels,
        requested_height: pixels,
      })
      .strict(),
    shards: 1,
  },
  compose_video: {
    description: "Clips → one video with timed text overlays and an optional audio bed (volume, fades).",
    capabilities: ["video.compose@1"],
    inputs: {
      required: [],
      optional: ["audio"],
      pattern: /^clip_[0-9]{1,3}$/,
      max: 101,
      named: (params) => (Array.isArray(params.clips) ? params.clips.map(String) : []),
    },
    outputs: [{ kind: "video", contentTypes: ["video/mp4"] }],
    params: z
      .object({
        /** Input names in play order; each must be one of the job's inputs. */
        clips: z
          .array(z.string().regex(/^clip_[0-9]{1,3}$/))
          .min(1)
          .max(100),
        overlays: z.array(overlaySchema).max(50).default([]),
        audio: z
          .object({
            volume: z.number().min(0).max(4).default(1),
            fade_in_s: seconds.default(0),
            fade_out_s: seconds.default(0),
          })
          .strict()
          .optional(),
      })
      .strict(),
    facts: z
      .object({
        duration_ms: z.number().int().nonnegative(),
        width: pixels,
        height: pixels,
        fps: z.number().positive(),
        /** "copy": clips were uniform and concatenated as they were; "normalised": re-encoded first. */
        method: z.enum(["copy", "normalised"]),
        /** Seconds of video re-encoded for overlays (the rest is stream-copied). */
        reencoded_s: z.number().nonnegative(),
      })
      .strict(),
    shards: 1,
  },
  synthesize_speech: {
    description: "Speech from text (espeak-ng by default, a remote TTS by configuration), as WAV.",
    capabilities: ["speech.synthesize@1"],
    inputs: { required: [] },
    outputs: [{ kind: "audio", contentTypes: ["audio/wav"] }],
    params: z
      .object({
        text: z.string().trim().min(1).max(20_000),
        voice: z.string().max(64).default("en"),
        /** Words per minute. */
        speed: z.number().int().min(80).max(450).default(175),
        /** "local" is espeak-ng on the bridge; "remote" the TTS server the bridge is configured with. */
        provider: z.enum(["local", "remote"]).default("local"),
      })
      .strict(),
    facts: z
      .object({
        duration_ms: z.number().int().nonnegative(),
        provider: z.string().max(64),
        voice: z.string().max(64),
        is_model: z.boolean(),
      })
      .strict(),
    shards: 1,
  },
} as const satisfies Record<string, JobTypeSpec>;

export type JobType = keyof typeof JOB_TYPES;
export const JOB_TYPE_NAMES = Object.keys(JOB_TYPES) as [JobType, ...JobType[]];

export function isJobType(value: string): value is JobType {
  return Object.hasOwn(JOB_TYPES, value);
}

/** The job types an agent with these capabilities can run: every required capability declared. */
export function runnableJobTypes(capabilities: readonly string[]): JobType[] {
  const declared = new Set(capabilities);
  return JOB_TYPE_NAMES.filter((type) => JOB_TYPES[type].capabilities.every((cap) => declared.has(cap)));
}

/**
 * Problems with a job's input names given its (parsed) params, for the
 * dispatcher (422) and the bridge (a guard); empty when fine.
 */
export function inputNameProblems(type: JobType, names: readonly string[], params: Record<string, unknown>): string[] {
  const rule: InputRule = JOB_TYPES[type].inputs;
  const known = (name: string) =>
    rule.required.includes(name) || (rule.optional ?? []).includes(name) || (rule.pattern?.test(name) ?? false);
  const referenced = rule.named?.(params) ?? [];
  return [
    ...rule.required.filter((name) => !names.includes(name)).map((name) => `missing input ${name}`),
    ...names.filter((name) => !known(name)).map((name) => `unexpected input ${name}`),
    ...(names.length > (rule.max ?? 16) ? [`at most ${rule.max ?? 16} inputs`] : []),
    ...referenced
      .filter((name) => !names.includes(name))
      .map((name) => `params name input ${name}, which is not given`),
    ...names
      .filter((name) => rule.pattern?.test(name) && !referenced.includes(name))
      .map((name) => `input ${name} is not used by the params`),
  ];
}
