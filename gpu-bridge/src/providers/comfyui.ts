/**
 * A ComfyUI server over its HTTP API (https://docs.comfy.org, "Routes"):
 * images the job gives are uploaded with POST /upload/image, the configured
 * workflow is filled (comfyui-workflow.ts) and queued with POST /prompt
 * {prompt, client_id} → {prompt_id, number, node_errors}; GET
 * /history/{prompt_id} is polled until the prompt has finished (its entry
 * appears with outputs, or with an error status); the output file is fetched
 * with GET /view?filename=&subfolder=&type=. An aborted job interrupts the
 * prompt (POST /interrupt) and drops it from the queue if it has not started.
 *
 * Every URL is the configured server plus a fixed route; the job only
 * supplies values inside the workflow and the query string.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Sampler } from "../../../worker/contracts/models";
import { JobError } from "../errors";
import { abortReason, sleep } from "../retry";
import { fillWorkflow, loadWorkflow, PLACEHOLDERS, type PlaceholderValues } from "./comfyui-workflow";
import type { ComfyUiConfig } from "./config";
import { download, requestJson } from "./http";
import { checkProviderOutput, toClip, toPng } from "./media";
import type { Generated, ImageRequest, Provider, ProviderContext, VideoRequest } from "./types";

export interface ComfyUiOptions {
  timeoutMs: number;
  /** Between polls of /history. */
  pollIntervalMs?: number;
}

const queuedSchema = z.object({ prompt_id: z.string().min(1) });
const fileRefSchema = z.object({
  filename: z.string().min(1),
  subfolder: z.string().default(""),
  type: z.string().default("output"),
});
type FileRef = z.infer<typeof fileRefSchema>;
const historyEntrySchema = z.object({
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  status: z
    .object({
      status_str: z.string().optional(),
      completed: z.boolean().optional(),
      messages: z.array(z.tuple([z.string(), z.unknown()]).rest(z.unknown())).default([]),
    })
    .optional(),
});
type HistoryEntry = z.infer<typeof historyEntrySchema>;

const EXTENSIONS = {
  image: /\.(png|jpe?g|webp)$/i,
  video: /\.(mp4|webm|mkv|mov|gif|webp)$/i,
};
const CANCEL_TIMEOUT_MS = 5000;

/**
 * The contract's samplers as ComfyUI's KSampler names them: its sampler_name
 * and the scheduler (noise schedule) that the contract's name implies.
 */
const COMFY_SAMPLERS: Record<Sampler, { sampler: string; scheduler: string }> = {
  euler: { sampler: "euler", scheduler: "normal" },
  euler_a: { sampler: "euler_ancestral", scheduler: "normal" },
  dpmpp_2m: { sampler: "dpmpp_2m", scheduler: "normal" },
  dpmpp_2m_karras: { sampler: "dpmpp_2m", scheduler: "karras" },
  dpmpp_sde: { sampler: "dpmpp_sde", scheduler: "normal" },
  ddim: { sampler: "ddim", scheduler: "ddim_uniform" },
  lcm: { sampler: "lcm", scheduler: "normal" },
};

export function createComfyUiProvider(config: ComfyUiConfig, options: ComfyUiOptions): Provider {
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const auth: Record<string, string> = config.token ? { authorization: `Bearer ${config.token}` } : {};

  async function generateImage(request: ImageRequest, context: ProviderContext): Promise<Generated> {
    const workflowFile = needWorkflow(config.imageWorkflow, "IMAGE");
    const size = { width: request.width, height: request.height };
    const template = await loadWorkflow(workflowFile);
    const values: PlaceholderValues = {
      ...baseValues(request),
      ...size,
      strength: request.strength,
      ...(request.sampler ? COMFY_SAMPLERS[request.sampler] : {}),
      // CLIPSetLastLayer counts from the end: clip_skip 2 is stop_at_clip_layer -2.
      clip_skip: request.clipSkip === undefined ? undefined : -request.clipSkip,
    };
    if (request.image) values.image = await upload(request.image, "image", size, context);
    const workflow = fillWorkflow(template, values, PLACEHOLDERS.image);
    const output = await execute(workflow, "image", context);
    await checkProviderOutput(output, "comfyui", context.signal);
    context.progress(0.9, "normalising", "fitting the image to the requested size");
    const target = path.join(context.scratchDir, "comfyui-image.png");
    await toPng(output, target, size, context.signal);
    return {
      path: target,
      provider: "comfyui",
      model: modelName(request.model, workflowFile),
      isModel: true,
      warnings: [],
    };
  }

  async function generateVideo(request: VideoRequest, context: ProviderContext): Promise<Generated> {
    const workflowFile = needWorkflow(config.videoWorkflow, "VIDEO");
    const size = { width: request.width, height: request.height };
    const template = await loadWorkflow(workflowFile);
    const values: PlaceholderValues = {
      ...baseValues(request),
      ...size,
      fps: request.fps,
      frames: request.frames,
      image_strength: request.imageStrength,
      last_image_strength: request.lastImageStrength,
      // Empty rather than missing: a workflow that splices it into a prompt still runs without one.
      lighting_variant: request.lightingVariant ?? "",
    };
    if (request.image) values.image = await upload(request.image, "image", size, context);
    if (request.lastImage) values.last_image = await upload(request.lastImage, "last_image", size, context);
    const workflow = fillWorkflow(template, values, PLACEHOLDERS.video);
    const output = await execute(workflow, "video", context);
    const { hasAudio } = await checkProviderOutput(output, "comfyui", context.signal);
    const target = path.join(context.scratchDir, "comfyui-video.mp4");
    const model = modelName(request.model, workflowFile);
    await toClip(output, target, request, {
      hasAudio,
      comment: `generated by comfyui ${model}`,
      signal: context.signal,
      onProgress: (fraction) =>
        context.progress(0.9 + fraction * 0.1, "normalising", "re-encoding into the clip format"),
    });
    return { path: target, provider: "comfyui", model, isModel: true, warnings: [] };
  }

  /** Uploads a picture fitted to the size, under a name no other job uses; returns the name LoadImage wants. */
  async function upload(
    source: string,
    role: string,
    size: { width: number; height: number },
    context: ProviderContext,
  ): Promise<string> {
    const file = path.join(context.scratchDir, `comfyui-${role}.png`);
    await toPng(source, file, size, context.signal);
    const form = new FormData();
    form.append("image", new Blob([await readFile(file)], { type: "image/png" }), `media-edge-${randomUUID()}.png`);
    form.append("type", "input");
    form.append("overwrite", "true");
    const answer = await requestJson(`${config.url}/upload/image`, {
      provider: "comfyui",
      signal: context.signal,
      method: "POST",
      headers: auth,
      form,
    });
    const uploaded = z.object({ name: z.string().min(1), subfolder: z.string().default("") }).safeParse(answer);
    if (!uploaded.success) throw new JobError("provider_error", "comfyui answered the upload with no file name", true);
    const { name, subfolder } = uploaded.data;
    return subfolder ? `${subfolder}/${name}` : name;
  }

  /** Queues the workflow, waits for it and downloads its output file; returns the downloaded file. */
  async function execute(workflow: unknown, kind: "image" | "video", context: ProviderContext): Promise<string> {
    const deadline = AbortSignal.timeout(options.timeoutMs);
    const signal = AbortSignal.any([context.signal, deadline]);
    let promptId: string | undefined;
    let entry: HistoryEntry | undefined;
    try {
      context.progress(0, "queued", "comfyui");
      const queued = queuedSchema.safeParse(
        await requestJson(`${config.url}/prompt`, {
          provider: "comfyui",
          signal,
          method: "POST",
          headers: auth,
          body: { prompt: workflow, client_id: randomUUID() },
        }),
      );
      if (!queued.success) throw new JobError("provider_error", "comfyui queued the prompt without a prompt_id", true);
      promptId = queued.data.prompt_id;
      for (let polls = 0; !entry; polls++) {
        // ComfyUI reports step progress only over its WebSocket: over HTTP, creep toward 0.8 while waiting.
        context.progress(0.1 + 0.7 * (polls / (polls + 20)), "generating", `prompt ${promptId}`);
        if (!(await sleep(pollIntervalMs, signal))) throw abortReason(signal);
        entry = finished(
          await requestJson(`${config.url}/history/${encodeURIComponent(promptId)}`, {
            provider: "comfyui",
            signal,
            headers: auth,
          }),
          promptId,
        );
      }
    } catch (error) {
      if (signal.aborted && promptId && !entry) await interrupt(promptId);
      if (deadline.aborted && !context.signal.aborted) {
        throw new JobError("provider_timeout", `comfyui took longer than ${options.timeoutMs / 1000} s`, true);
      }
      throw error;
    }
    const ref = pickOutput(entry, kind);
    if (!ref) throw new JobError("provider_bad_output", `comfyui prompt ${promptId} produced no ${kind} file`, true);
    context.progress(0.85, "downloading", ref.filename);
    const query = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
    const file = path.join(context.scratchDir, `comfyui-output${path.extname(ref.filename)}`);
    await download(`${config.url}/view?${query}`, file, "comfyui", context.signal, auth);
    return file;
  }

  /**
   * Best effort. /interrupt stops whatever runs now; the prompt_id in the
   * body limits it to ours on servers that support that (older ones ignore
   * the body). Deleting from the queue covers a prompt that had not started.
   */
  async function interrupt(promptId: string): Promise<void> {
    const send = (route: string, body: unknown) =>
      requestJson(`${config.url}${route}`, {
        provider: "comfyui",
        signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
        method: "POST",
        headers: auth,
        body,
        idempotent: true,
        maxAttempts: 1,
      }).catch(() => undefined);
    await Promise.all([send("/interrupt", { prompt_id: promptId }), send("/queue", { delete: [promptId] })]);
  }

  return { name: "comfyui", generateImage, generateVideo };
}

/** The history entry once the prompt has finished; undefined while it is queued or running. Throws if it failed. */
function finished(history: unknown, promptId: string): HistoryEntry | undefined {
  const raw = history && typeof history === "object" ? (history as Record<string, unknown>)[promptId] : undefined;
  if (raw === undefined) return undefined;
  const parsed = historyEntrySchema.safeParse(raw);
  if (!parsed.success)
    throw new JobError("provider_error", "comfyui's history entry is not in the expected shape", true);
  const entry = parsed.data;
  if (entry.status?.status_str === "error") {
    const failure = entry.status.messages.find(([type]) => type === "execution_error")?.[1];
    const detail = z
      .object({ node_type: z.string().optional(), exception_message: z.string().optional() })
      .safeParse(failure);
    const where = detail.success && detail.data.node_type ? ` in ${detail.data.node_type}` : "";
    const why = detail.success && detail.data.exception_message ? `: ${detail.data.exception_message.trim()}` : "";
    throw new JobError("provider_failed", `comfyui prompt ${promptId} failed${where}${why}`.slice(0, 600), false);
  }
  if (entry.status?.status_str === undefined && Object.keys(entry.outputs).length === 0) return undefined;
  return entry;
}

/** The first file of the right kind among the nodes' outputs, saved outputs before temporary previews. */
function pickOutput(entry: HistoryEntry, kind: "image" | "video"): FileRef | undefined {
  const refs = Object.values(entry.outputs)
    .flatMap((node) => Object.values(node))
    .flatMap((value) => (Array.isArray(value) ? value : []))
    .flatMap((item) => {
      const ref = fileRefSchema.safeParse(item);
      return ref.success && EXTENSIONS[kind].test(ref.data.filename) ? [ref.data] : [];
    });
  return refs.find((ref) => ref.type === "output") ?? refs[0];
}

function needWorkflow(file: string | null, kind: "IMAGE" | "VIDEO"): string {
  if (!file) {
    throw new JobError(
      "provider_unavailable",
      `comfyui has no ${kind.toLowerCase()} workflow (GPU_BRIDGE_COMFYUI_${kind}_WORKFLOW)`,
      false,
    );
  }
  return file;
}

function baseValues(request: ImageRequest | VideoRequest): PlaceholderValues {
  return {
    prompt: request.prompt,
    negative_prompt: request.negativePrompt,
    seed: request.seed,
    steps: request.steps,
    guidance: request.guidance,
    // "local" is the params' default, meaning "whatever the workflow loads": no model to fill in then.
    model: request.model === "local" ? undefined : request.model,
  };
}

/** What ran: the model the job named, else the workflow file (the model is whatever it loads). */
function modelName(requested: string, workflowFile: string): string {
  return (requested !== "local" ? requested : `workflow:${path.basename(workflowFile)}`).slice(0, 128);
}
