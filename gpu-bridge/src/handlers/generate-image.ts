/**
 * `image.generate@1` (job type generate_image): an image from a prompt, or
 * from the optional input "image" (img2img), made by the provider the params
 * name ("local" by default: procedural, offline, not a model). Whatever the
 * provider, the output is a PNG of exactly the requested size, checked with
 * ffprobe, with a JPEG preview beside it, and the facts say which provider and
 * model made it.
 */
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { verifyOutput } from "../media/encode";
import {
  detectGeneration,
  generationBase,
  providerContext,
  registryFromEnv,
  verifying,
} from "../providers/handler-support";
import { makePreview } from "../providers/media";
import type { ProviderRegistry } from "../providers/registry";
import { parseParams } from "./params";
import type { Handler } from "./types";

export function createGenerateImageHandler(registry: () => ProviderRegistry = registryFromEnv): Handler {
  return {
    capability: "image.generate@1",
    jobType: "generate_image",

    detect: (signal) => detectGeneration(registry, signal),

    async run(context) {
      const params = parseParams(JOB_TYPES.generate_image.params, context);
      const provider = registry().get(params.provider);
      const started = performance.now();
      const result = await provider.generateImage(
        {
          ...generationBase(params),
          width: params.width,
          height: params.height,
          strength: params.strength,
          sampler: params.sampler,
          clipSkip: params.clip_skip,
          image: context.inputs.get("image")?.path,
        },
        providerContext(context),
      );
      const generateMs = Math.round(performance.now() - started);
      verifying(context);
      await verifyOutput(
        result.path,
        { video: { codec: "png", width: params.width, height: params.height }, audio: false },
        context.signal,
      );
      const preview = await makePreview(result.path, params, context.scratchDir, context.signal);
      return {
        facts: {
          provider: result.provider,
          model: result.model,
          is_model: result.isModel,
          seed: params.seed,
          width: params.width,
          height: params.height,
        },
        warnings: result.warnings,
        metrics: { generate_ms: generateMs },
        outputs: [{ kind: "image", path: result.path, contentType: "image/png" }, preview],
      };
    },
  };
}

export const generateImageHandler = createGenerateImageHandler();
