/**
 * The job types every surface dispatches and every GPU bridge runs. A job type
 * names the capabilities (contract 003's `domain.function@N`) an agent must
 * declare to see it, the inputs it reads and the result it must submit.
 * Only zod is imported: the Worker and the GPU bridge both read this table.
 */
import { z } from "zod";

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

export interface JobTypeSpec {
  description: string;
  /** Every one must be declared by an agent for it to see or claim the job. */
  capabilities: readonly string[];
  /** Named input artifacts the job reads (downloaded through the agent API). */
  inputs: readonly string[];
  /** Parameters the dispatcher sends, validated before the job is written. */
  params: z.ZodType<Record<string, unknown>>;
  /** What `result.facts` must look like on submit; null when the type reports no facts. */
  facts: z.ZodType<Record<string, unknown>> | null;
  /** JobBoard shards for this type: raise for hot types so one object never carries the fleet. */
  shards: number;
}

export const JOB_TYPES = {
  extract_facts: {
    description: "Probe one media file with ffprobe: duration, container, codecs, size, frame rate.",
    capabilities: ["media.facts@1"],
    inputs: ["source"],
    params: z.object({}).strict(),
    facts: mediaFactsSchema,
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
