/**
 * `video.generate@1` (job type generate_video): a clip from a prompt, starting
 * from the optional input "image" (i2v), ending on "last_image", passing
 * through keyframes (inputs `frame_<n>` pinned at frame n), made by the
 * provider the params name ("local" by default: procedural, offline, not a
 * model). Whatever the provider, the output is in the clip format
 * (media/clip-format.ts) with exactly `frames` frames at `fps`, so composition
 * can stream-copy it, with a JPEG of its first frame as the preview. H.264
 * yuv420p needs even sizes: odd requested ones are rounded down and the
 * request is kept in the facts.
 */
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { JobError } from "../errors";
import { CLIP_FORMAT, evenSize } from "../media/clip-format";
import { verifyOutput } from "../media/encode";
import {
  detectGeneration,
  generationBase,
  providerContext,
  registryFromEnv,
  verifying,
} from "../providers/handler-support";
import { clipDurationMs, makePreview } from "../providers/media";
import type { ProviderRegistry } from "../providers/registry";
import { parseParams } from "./params";
import type { Handler } from "./types";

export function createGenerateVideoHandler(registry: () => ProviderRegistry = registryFromEnv): Handler {
  return {
    capability: "video.generate@1",
    jobType: "generate_video",

    detect: (signal) => detectGeneration(registry, signal),

    async run(context) {
      const params = parseParams(JOB_TYPES.generate_video.params, context);
      const provider = registry().get(params.provider);
      if (params.keyframes.length > 0 && !provider.keyframes) {
        throw new JobError(
          "unsupported_params",
          `provider ${provider.name} cannot pin keyframes (arbitrary_frame); route this model to one that can`,
          false,
        );
      }
      const width = evenSize(params.width);
      const height = evenSize(params.height);
      const warnings =
        width !== params.width || height !== params.height
          ? [`size rounded from ${params.width}x${params.height} to ${width}x${height} (H.264 needs even sizes)`]
          : [];
      const started = performance.now();
      const result = await provider.generateVideo(
        {
          ...generationBase(params),
          width,
          height,
          fps: params.fps,
          frames: params.frames,
          image: context.inputs.get("image")?.path,
          imageStrength: params.image_strength,
          lastImage: context.inputs.get("last_image")?.path,
          lastImageStrength: params.last_image_strength,
          lightingVariant: params.lighting_variant,
          keyframes: params.keyframes.map((keyframe) => {
            const input = context.inputs.get(keyframe.input);
            if (!input) {
              throw new JobError(
                "invalid_params",
                `keyframe input ${keyframe.input} is not an input of the job`,
                false,
              );
            }
            return { path: input.path, index: keyframe.index, strength: keyframe.strength };
          }),
        },
        providerContext(context),
      );
      const generateMs = Math.round(performance.now() - started);
      verifying(context);
      const durationMs = clipDurationMs(params.frames, params.fps);
      const probe = await verifyOutput(
        result.path,
        {
          video: { codec: CLIP_FORMAT.videoCodec, width, height, pixFmt: CLIP_FORMAT.pixFmt },
          audio: { codec: CLIP_FORMAT.audioCodec },
          durationMs,
        },
        context.signal,
      );
      // MP4 stores the frame count in its index, so this costs no decoding.
      const counted = probe.streams.find((s) => s.codec_type === "video")?.nb_frames;
      if (counted !== String(params.frames)) {
        throw new JobError(
          "output_invalid",
          `the clip has ${counted ?? "an unknown number of"} frames, not ${params.frames}`,
          true,
        );
      }
      const preview = await makePreview(result.path, { width, height }, context.scratchDir, context.signal);
      return {
        facts: {
          provider: result.provider,
          model: result.model,
          is_model: result.isModel,
          seed: params.seed,
          width,
          height,
          fps: params.fps,
          frames: params.frames,
          duration_ms: durationMs,
          requested_width: params.width,
          requested_height: params.height,
        },
        warnings: [...warnings, ...result.warnings],
        metrics: { generate_ms: generateMs },
        outputs: [{ kind: "video", path: result.path, contentType: "video/mp4" }, preview],
      };
    },
  };
}

export const generateVideoHandler = createGenerateVideoHandler();
