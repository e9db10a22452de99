/**
 * The remote provider adapters against in-process fakes of Replicate's and
 * ComfyUI's HTTP APIs (test/helpers/fake-*.ts), serving media made by
 * ffmpeg: the happy and polling paths, error mapping (what is retryable),
 * Retry-After, cancelling on abort, workflow placeholders, provider
 * configuration, and one job end to end through the handler.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JOB_TYPES } from "../../worker/contracts/job-types";
import { JobError } from "../src/errors";
import { createGenerateImageHandler } from "../src/handlers/generate-image";
import type { ProgressUpdate } from "../src/handlers/types";
import { createComfyUiProvider } from "../src/providers/comfyui";
import { describeProviders, loadProviderConfig } from "../src/providers/config";
import { createProviderRegistry } from "../src/providers/registry";
import { createReplicateProvider } from "../src/providers/replicate";
import type { ImageRequest, ProviderContext, VideoRequest } from "../src/providers/types";
import { newJob } from "./helpers/fake-api";
import { FakeComfyUi } from "./helpers/fake-comfyui";
import { FakeReplicate } from "./helpers/fake-replicate";
import { countFrames, expectClip, makeImage } from "./helpers/frames";
import { must } from "./helpers/must";

const TOKEN = "r8_secret_test_token";
const VIDEO_MODEL = `acme/animate:${"ab".repeat(32)}`;
const ffmpeg = (...args: string[]) =>
  promisify(execFile)("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);

let dir = "";
let replicate: FakeReplicate;
let comfy: FakeComfyUi;
const files = { picture: "", silentVideo: "", soundVideo: "", workflows: {} as Record<string, string> };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "providers-test-"));
  files.silentVideo = path.join(dir, "silent.mp4");
  files.soundVideo = path.join(dir, "sound.mp4");
  [files.picture] = await Promise.all([
    makeImage(dir, "picture.png", "testsrc2", 80, 60),
    ffmpeg(
      "-f",
      "lavfi",
      "-i",
      "testsrc=s=128x96:r=25:d=1.2",
      "-c:v",
      "libx264",
      "-pix_fmt",
      "yuv420p",
      files.silentVideo,
    ),
    ffmpeg(
      ...["-f", "lavfi", "-i", "testsrc=s=128x96:r=24:d=1", "-f", "lavfi", "-i", "sine=frequency=440:duration=1"],
      ...["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", files.soundVideo],
    ),
  ]);
  files.workflows = await writeWorkflows(dir);
  [replicate, comfy] = await Promise.all([
    FakeReplicate.start({ token: TOKEN, image: files.picture, video: files.silentVideo }),
    FakeComfyUi.start({ image: files.picture, video: files.soundVideo }),
  ]);
});

afterAll(async () => {
  await Promise.all([replicate?.close(), comfy?.close()]);
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  replicate.reset();
  comfy.reset();
});

const imageRequest = (extra: Partial<ImageRequest> = {}): ImageRequest => ({
  prompt: "a lighthouse",
  negativePrompt: "",
  seed: 42,
  model: "local",
  steps: 20,
  guidance: 5,
  width: 64,
  height: 48,
  strength: 0.6,
  sampler: "dpmpp_2m_karras",
  clipSkip: 2,
  ...extra,
});

const videoRequest = (extra: Partial<VideoRequest> = {}): VideoRequest => ({
  ...imageRequest(),
  width: 96,
  height: 64,
  fps: 10,
  frames: 15,
  imageStrength: 1,
  lastImageStrength: 1,
  ...extra,
});

async function contextFor(signal = new AbortController().signal) {
  const progress: ProgressUpdate[] = [];
  const context: ProviderContext = {
    scratchDir: await mkdtemp(path.join(dir, "job-")),
    signal,
    progress: (fraction, stage, message) => progress.push({ fraction, stage, message }),
  };
  return { context, progress };
}

function replicateProvider(overrides: { token?: string; videoModel?: string | null } = {}) {
  return createReplicateProvider(
    {
      token: overrides.token ?? TOKEN,
      baseUrl: replicate.url,
      imageModel: "acme/imagine",
      videoModel: overrides.videoModel === undefined ? VIDEO_MODEL : overrides.videoModel,
    },
    { timeoutMs: 30_000, pollIntervalMs: 5 },
  );
}

function comfyProvider(workflows: { image?: string; video?: string } = {}) {
  return createComfyUiProvider(
    {
      url: comfy.url,
      token: null,
      imageWorkflow: workflows.image ?? files.workflows.txt2img ?? null,
      videoWorkflow: workflows.video ?? files.workflows.video ?? null,
    },
    { timeoutMs: 30_000, pollIntervalMs: 5 },
  );
}

async function failure(promise: Promise<unknown>): Promise<JobError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JobError);
  return error as JobError;
}

describe("replicate", () => {
  it("creates a prediction with the token, Prefer: wait and the inputs, and fits its output to the size", async () => {
    const { context } = await contextFor();
    const result = await replicateProvider().generateImage(imageRequest(), context);
    expect(result).toMatchObject({ provider: "replicate", model: "acme/imagine", isModel: true });
    expect(await countFrames(result.path)).toMatchObject({ codec_name: "png", width: 64, height: 48 });
    const [create] = replicate.of("POST", /^\/v1\/predictions$/);
    expect(create?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(create?.headers.prefer).toMatch(/^wait(=\d+)?$/);
    expect(create?.body).toEqual({
      version: "acme/imagine",
      input: {
        prompt: "a lighthouse",
        seed: 42,
        width: 64,
        height: 48,
        num_inference_steps: 20,
        guidance_scale: 5,
        sampler: "dpmpp_2m_karras",
        clip_skip: 2,
      },
    });
    // Finished within the create's wait: nothing to poll. The output came from the CDN path without the token.
    expect(replicate.of("GET", /^\/v1\/predictions\//)).toHaveLength(0);
    expect(must(replicate.of("GET", /^\/files\//)[0]).headers.authorization).toBeUndefined();
  });

  it("polls a slow prediction to the end and normalises its video into the clip format", async () => {
    replicate.behaviour = { ...replicate.behaviour, pollsBeforeDone: 3, output: "video", outputShape: "array" };
    const { context, progress } = await contextFor();
    const result = await replicateProvider().generateVideo(videoRequest(), context);
    expect(result.model).toBe(VIDEO_MODEL);
    expect(replicate.of("GET", /^\/v1\/predictions\//)).toHaveLength(3);
    await expectClip(result.path, { width: 96, height: 64, fps: 10, frames: 15 });
    const stages = [...new Set(progress.map((p) => p.stage))];
    expect(stages).toEqual(["queued", "generating", "downloading", "normalising"]);
    expect(progress.find((p) => p.stage === "generating")?.message).toMatch(/\d+ %/);
  });

  it("sends the img2img picture as a PNG data: URL with its strength", async () => {
    const { context } = await contextFor();
    await replicateProvider().generateImage(imageRequest({ image: files.picture, strength: 0.3 }), context);
    const input = (must(replicate.of("POST", /^\/v1\/predictions$/)[0]).body as { input: Record<string, unknown> })
      .input;
    expect(input.image).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
    expect(input.prompt_strength).toBe(0.3);
  });

  it("sends each video picture with its strength, and lighting_variant only when the job gives one", async () => {
    const { context } = await contextFor();
    const inputOf = (n: number) =>
      (must(replicate.of("POST", /^\/v1\/predictions$/)[n]).body as { input: Record<string, unknown> }).input;
    // A job written before sampler and clip_skip existed sends neither: the model's defaults hold.
    await replicateProvider().generateImage(imageRequest({ sampler: undefined, clipSkip: undefined }), context);
    expect(inputOf(0)).not.toHaveProperty("sampler");
    expect(inputOf(0)).not.toHaveProperty("clip_skip");
    replicate.behaviour = { ...replicate.behaviour, output: "video" };
    const request = videoRequest({
      image: files.picture,
      imageStrength: 0.4,
      lastImage: files.picture,
      lastImageStrength: 0.7,
      lightingVariant: "golden hour",
    });
    await replicateProvider().generateVideo(request, context);
    expect(inputOf(1)).toMatchObject({
      image: expect.stringMatching(/^data:image\/png;base64,/),
      image_strength: 0.4,
      last_image: expect.stringMatching(/^data:image\/png;base64,/),
      last_image_strength: 0.7,
      lighting_variant: "golden hour",
    });
    // From a prompt alone: no pictures, so no strengths, and no lighting_variant.
    await replicateProvider().generateVideo(videoRequest(), context);
    expect(Object.keys(inputOf(2)).sort()).toEqual(
      ["fps", "guidance_scale", "height", "num_frames", "num_inference_steps", "prompt", "seed", "width"].sort(),
    );
  });

  it("fails a refused token (401) as not retryable, without echoing the token", async () => {
    const { context } = await contextFor();
    const error = await failure(replicateProvider({ token: "r8_wrong" }).generateImage(imageRequest(), context));
    expect(error).toMatchObject({ code: "provider_auth", retryable: false });
    expect(error.message).toMatch(/401.*valid authentication token/);
    expect(error.message).not.toContain("r8_wrong");
  });

  it("fails an unknown model (422) as not retryable, with Replicate's detail", async () => {
    const { context } = await contextFor();
    const error = await failure(replicateProvider().generateImage(imageRequest({ model: "missing/model" }), context));
    expect(error).toMatchObject({ code: "provider_rejected", retryable: false });
    expect(error.message).toMatch(/422.*version does not exist/);
  });

  it("refuses a job's model that is not a Replicate model id before sending anything", async () => {
    const { context } = await contextFor();
    const error = await failure(replicateProvider().generateImage(imageRequest({ model: "../../admin" }), context));
    expect(error).toMatchObject({ code: "invalid_params", retryable: false });
    expect(replicate.requests).toHaveLength(0);
  });

  it("waits out a 429's Retry-After, then creates the prediction", async () => {
    replicate.behaviour = { ...replicate.behaviour, throttle: 1, retryAfterS: 1 };
    const { context } = await contextFor();
    await replicateProvider().generateImage(imageRequest(), context);
    const [first, second] = replicate.of("POST", /^\/v1\/predictions$/);
    expect(must(second).at - must(first).at).toBeGreaterThanOrEqual(950);
  });

  it("gives up on persistent throttling as retryable", async () => {
    replicate.behaviour = { ...replicate.behaviour, throttle: 100 };
    const { context } = await contextFor();
    const error = await failure(replicateProvider().generateImage(imageRequest(), context));
    expect(error).toMatchObject({ code: "provider_rate_limited", retryable: true });
    expect(replicate.of("POST", /^\/v1\/predictions$/)).toHaveLength(4);
  });

  it("surfaces a failed prediction's error", async () => {
    replicate.behaviour = { ...replicate.behaviour, pollsBeforeDone: 1, failWith: "CUDA out of memory on the model" };
    const { context } = await contextFor();
    const error = await failure(replicateProvider().generateImage(imageRequest(), context));
    expect(error).toMatchObject({ code: "provider_failed", retryable: false });
    expect(error.message).toMatch(/failed: CUDA out of memory on the model/);
  });

  it("cancels the prediction when the job is aborted", async () => {
    replicate.behaviour = { ...replicate.behaviour, hang: true };
    const controller = new AbortController();
    const { context } = await contextFor(controller.signal);
    const running = replicateProvider().generateImage(imageRequest(), context);
    await replicate.waitFor((r) => r.method === "GET" && r.path.startsWith("/v1/predictions/"));
    controller.abort(new Error("lease lost"));
    await expect(running).rejects.toThrow("lease lost");
    const [cancel] = replicate.of("POST", /^\/v1\/predictions\/[^/]+\/cancel$/);
    expect(cancel?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("never sends the token to urls on another origin: it polls its configured API instead", async () => {
    replicate.behaviour = { ...replicate.behaviour, pollsBeforeDone: 2, foreignUrls: true };
    const { context } = await contextFor();
    const result = await replicateProvider().generateImage(imageRequest(), context);
    expect(result.provider).toBe("replicate");
    expect(replicate.of("GET", /^\/v1\/predictions\//)).toHaveLength(2);
  });

  it("is unavailable for videos when no video model is configured", async () => {
    const { context } = await contextFor();
    const error = await failure(replicateProvider({ videoModel: null }).generateVideo(videoRequest(), context));
    expect(error).toMatchObject({ code: "provider_unavailable", retryable: false });
    expect(error.message).toContain("GPU_BRIDGE_REPLICATE_VIDEO_MODEL");
  });
});

describe("comfyui", () => {
  it("fills the workflow's placeholders as typed JSON values, queues it and fetches the saved output", async () => {
    const { context } = await contextFor();
    const prompt = 'say "hi" {{seed}} \\ }';
    const result = await comfyProvider().generateImage(imageRequest({ prompt, negativePrompt: "fog" }), context);
    expect(result).toMatchObject({ provider: "comfyui", model: "workflow:txt2img.json", isModel: true });
    expect(await countFrames(result.path)).toMatchObject({ codec_name: "png", width: 64, height: 48 });
    const queued = must(comfy.of("POST", "/prompt")[0]).body as {
      prompt: Record<string, { inputs: Record<string, unknown> }>;
      client_id: string;
    };
    expect(queued.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(queued.prompt["3"]?.inputs).toMatchObject({
      seed: 42,
      steps: 20,
      cfg: 5,
      denoise: 0.6,
      sampler_name: "dpmpp_2m",
      scheduler: "karras",
    });
    expect(queued.prompt["5"]?.inputs).toMatchObject({ width: 64, height: 48 });
    expect(queued.prompt["11"]?.inputs).toMatchObject({ stop_at_clip_layer: -2 });
    // The prompt arrives exactly as given: its quotes, backslash and braces are data, not template.
    expect(queued.prompt["6"]?.inputs.text).toBe(prompt);
    expect(queued.prompt["7"]?.inputs.text).toBe("blurry, fog");
    const view = must(comfy.of("GET", "/view")[0]).query;
    expect(Object.fromEntries(view)).toEqual({
      filename: "ComfyUI_00001_.png",
      subfolder: "media-edge",
      type: "output",
    });
  });

  it("uploads the img2img picture and names it in LoadImage", async () => {
    const { context } = await contextFor();
    await comfyProvider({ image: files.workflows.img2img }).generateImage(
      imageRequest({ image: files.picture }),
      context,
    );
    const [uploaded] = [...comfy.uploads.keys()];
    const queued = must(comfy.of("POST", "/prompt")[0]).body as {
      prompt: Record<string, { inputs: Record<string, unknown> }>;
    };
    expect(queued.prompt["10"]?.inputs.image).toBe(uploaded);
    expect(
      must(comfy.uploads.get(must(uploaded)))
        .subarray(1, 4)
        .toString(),
    ).toBe("PNG");
  });

  it("polls the history until the video is done and normalises it, keeping its sound", async () => {
    comfy.behaviour = { ...comfy.behaviour, pollsBeforeDone: 2, output: "video" };
    const { context, progress } = await contextFor();
    const result = await comfyProvider().generateVideo(videoRequest({ fps: 12, frames: 18 }), context);
    expect(comfy.of("GET", /^\/history\//)).toHaveLength(3);
    await expectClip(result.path, { width: 96, height: 64, fps: 12, frames: 18 });
    expect(progress.map((p) => p.stage)).toContain("generating");
    const queued = must(comfy.of("POST", "/prompt")[0]).body as {
      prompt: Record<string, { inputs: Record<string, unknown> }>;
    };
    expect(queued.prompt["20"]?.inputs).toMatchObject({ length: 18, frame_rate: 12 });
    // No lighting_variant: the placeholder is empty, not missing.
    expect(queued.prompt["6"]?.inputs.text).toBe("a lighthouse, lit ");
  });

  it("names each sampler as KSampler does, and fills the video's strengths and lighting", async () => {
    const { context } = await contextFor();
    const samplers = [
      ["euler", "euler", "normal"],
      ["euler_a", "euler_ancestral", "normal"],
      ["dpmpp_2m", "dpmpp_2m", "normal"],
      ["dpmpp_2m_karras", "dpmpp_2m", "karras"],
      ["dpmpp_sde", "dpmpp_sde", "normal"],
      ["ddim", "ddim", "ddim_uniform"],
      ["lcm", "lcm", "normal"],
    ] as const;
    for (const [sampler] of samplers) {
      await comfyProvider().generateImage(imageRequest({ sampler, clipSkip: 1 }), context);
    }
    const queued = comfy
      .of("POST", "/prompt")
      .map((r) => (r.body as { prompt: Record<string, { inputs: Record<string, unknown> }> }).prompt);
    expect(queued.map((prompt) => [prompt["3"]?.inputs.sampler_name, prompt["3"]?.inputs.scheduler])).toEqual(
      samplers.map(([, name, scheduler]) => [name, scheduler]),
    );
    expect(queued[0]?.["11"]?.inputs.stop_at_clip_layer).toBe(-1);

    comfy.reset();
    comfy.behaviour = { ...comfy.behaviour, output: "video" };
    const request = videoRequest({ imageStrength: 0.25, lastImageStrength: 0.5, lightingVariant: "neon" });
    await comfyProvider().generateVideo(request, context);
    const video = must(comfy.of("POST", "/prompt")[0]).body as {
      prompt: Record<string, { inputs: Record<string, unknown> }>;
    };
    expect(video.prompt["21"]?.inputs).toEqual({ start_strength: 0.25, end_strength: 0.5 });
    expect(video.prompt["6"]?.inputs.text).toBe("a lighthouse, lit neon");
  });

  it("fails a workflow ComfyUI rejects (400) as not retryable, with its message", async () => {
    const { context } = await contextFor();
    const error = await failure(
      comfyProvider({ image: files.workflows.invalid }).generateImage(imageRequest(), context),
    );
    expect(error).toMatchObject({ code: "provider_rejected", retryable: false });
    expect(error.message).toMatch(/400.*Prompt outputs failed validation/);
  });

  it("surfaces an execution error from the history", async () => {
    comfy.behaviour = {
      ...comfy.behaviour,
      pollsBeforeDone: 1,
      failWith: { nodeType: "KSampler", message: "Allocation on device" },
    };
    const { context } = await contextFor();
    const error = await failure(comfyProvider().generateImage(imageRequest(), context));
    expect(error).toMatchObject({ code: "provider_failed", retryable: false });
    expect(error.message).toMatch(/failed in KSampler: Allocation on device/);
  });

  it("interrupts the prompt and drops it from the queue when the job is aborted", async () => {
    comfy.behaviour = { ...comfy.behaviour, hang: true };
    const controller = new AbortController();
    const { context } = await contextFor(controller.signal);
    const running = comfyProvider().generateImage(imageRequest(), context);
    await comfy.waitFor((r) => r.method === "GET" && r.path.startsWith("/history/"));
    controller.abort(new Error("lease lost"));
    await expect(running).rejects.toThrow("lease lost");
    const promptId = must(comfy.of("GET", /^\/history\//)[0]).path.split("/")[2];
    expect(must(comfy.of("POST", "/interrupt")[0]).body).toEqual({ prompt_id: promptId });
    expect(must(comfy.of("POST", "/queue")[0]).body).toEqual({ delete: [promptId] });
  });

  it("refuses a workflow with an unknown placeholder, and a job missing a picture the workflow needs", async () => {
    const { context } = await contextFor();
    const unknown = await failure(
      comfyProvider({ image: files.workflows.unknown }).generateImage(imageRequest(), context),
    );
    expect(unknown).toMatchObject({ code: "provider_misconfigured", retryable: false });
    expect(unknown.message).toContain("{{cfg_scale}}");
    const missing = await failure(
      comfyProvider({ image: files.workflows.img2img }).generateImage(imageRequest(), context),
    );
    expect(missing).toMatchObject({ code: "input_missing", retryable: false });
    // A job written before sampler existed has none to give a workflow that uses it.
    const older = await failure(comfyProvider().generateImage(imageRequest({ sampler: undefined }), context));
    expect(older).toMatchObject({ code: "input_missing", retryable: false });
    expect(older.message).toContain("{{sampler}}");
    expect(comfy.of("POST", "/prompt")).toHaveLength(0);
  });
});

describe("provider configuration", () => {
  const env = (vars: Record<string, string>): NodeJS.ProcessEnv => vars;

  it("describes what is configured without printing secrets", () => {
    const lines = describeProviders(
      env({
        GPU_BRIDGE_REPLICATE_API_TOKEN: TOKEN,
        GPU_BRIDGE_REPLICATE_IMAGE_MODEL: "acme/imagine",
        GPU_BRIDGE_COMFYUI_URL: "https://10.0.0.5:8188",
        GPU_BRIDGE_COMFYUI_TOKEN: "comfy-secret",
        GPU_BRIDGE_COMFYUI_IMAGE_WORKFLOW: must(files.workflows.txt2img),
      }),
    );
    expect(lines[0]).toMatch(/^local: available .*not a model/);
    expect(lines[1]).toMatch(
      /^replicate: configured at https:\/\/api\.replicate\.com .*image model acme\/imagine, video model none/,
    );
    expect(lines[2]).toMatch(/^comfyui: configured at https:\/\/10\.0\.0\.5:8188 .*txt2img\.json, video workflow none/);
    expect(lines.join("\n")).not.toMatch(/r8_secret|comfy-secret/);
    expect(describeProviders(env({}))).toEqual([
      expect.stringMatching(/^local: available/),
      expect.stringMatching(/^replicate: not configured/),
      expect.stringMatching(/^comfyui: not configured/),
    ]);
  });

  it("disables a misconfigured provider and says why, leaving the others alone", () => {
    const config = loadProviderConfig(
      env({
        GPU_BRIDGE_REPLICATE_API_TOKEN: TOKEN,
        GPU_BRIDGE_REPLICATE_BASE_URL: "http://api.example.com",
        GPU_BRIDGE_COMFYUI_IMAGE_WORKFLOW: "/etc/workflow.json",
      }),
    );
    expect(config.replicate).toBeNull();
    expect(config.comfyui).toBeNull();
    expect(config.problems).toEqual([
      expect.stringMatching(/^replicate: GPU_BRIDGE_REPLICATE_BASE_URL: plain http is only allowed to loopback/),
      "comfyui: GPU_BRIDGE_COMFYUI_URL: required",
    ]);
    expect(config.problems.join("\n")).not.toContain(TOKEN);
    const described = describeProviders(
      env({ GPU_BRIDGE_REPLICATE_API_TOKEN: TOKEN, GPU_BRIDGE_REPLICATE_BASE_URL: "http://api.example.com" }),
    );
    expect(described[1]).toMatch(/^replicate: misconfigured, GPU_BRIDGE_REPLICATE_BASE_URL: plain http/);
    expect(described.join("\n")).not.toContain(TOKEN);
    const comfy = loadProviderConfig(
      env({ GPU_BRIDGE_COMFYUI_URL: "http://comfy.example", GPU_BRIDGE_COMFYUI_TOKEN: TOKEN }),
    );
    expect(comfy.comfyui).toBeNull();
    expect(comfy.problems).toEqual([expect.stringMatching(/^comfyui: GPU_BRIDGE_COMFYUI_URL: plain http is only/)]);
    const registry = createProviderRegistry(
      env({ GPU_BRIDGE_REPLICATE_API_TOKEN: TOKEN, GPU_BRIDGE_REPLICATE_IMAGE_MODEL: "not a model" }),
    );
    expect(registry.names()).toEqual(["local"]);
    expect(() => registry.get("replicate")).toThrow(/misconfigured.*GPU_BRIDGE_REPLICATE_IMAGE_MODEL="not a model"/);
    expect(() => registry.get("comfyui")).toThrow(/not configured on this bridge; available: local/);
  });

  it("runs a generate_image job on replicate end to end through the handler", async () => {
    const registry = createProviderRegistry(
      env({
        GPU_BRIDGE_REPLICATE_API_TOKEN: TOKEN,
        GPU_BRIDGE_REPLICATE_BASE_URL: replicate.url,
        GPU_BRIDGE_REPLICATE_IMAGE_MODEL: "acme/imagine",
      }),
      { pollIntervalMs: 5 },
    );
    const handler = createGenerateImageHandler(() => registry);
    const { context } = await contextFor();
    const params = {
      prompt: "a lighthouse",
      seed: 7,
      width: 70,
      height: 50,
      provider: "replicate",
      sampler: "ddim",
      clip_skip: 3,
    };
    const result = await handler.run({
      job: { ...newJob({}), job_type: "generate_image", params },
      inputs: new Map(),
      scratchDir: context.scratchDir,
      signal: context.signal,
      progress: () => {},
    });
    expect(JOB_TYPES.generate_image.facts.parse(result.facts)).toEqual({
      provider: "replicate",
      model: "acme/imagine",
      is_model: true,
      seed: 7,
      width: 70,
      height: 50,
    });
    const { input } = must(replicate.of("POST", /^\/v1\/predictions$/)[0]).body as { input: Record<string, unknown> };
    expect(input).toMatchObject({ sampler: "ddim", clip_skip: 3 });
  });
});

/** API-format workflows shaped like ComfyUI's default graph, with placeholders. */
async function writeWorkflows(into: string): Promise<Record<string, string>> {
  const sampler = {
    class_type: "KSampler",
    inputs: {
      seed: "{{seed}}",
      steps: "{{steps}}",
      cfg: "{{guidance}}",
      denoise: "{{strength}}",
      sampler_name: "{{sampler}}",
      scheduler: "{{scheduler}}",
      model: ["4", 0],
    },
  };
  const clipSkip = { class_type: "CLIPSetLastLayer", inputs: { stop_at_clip_layer: "{{clip_skip}}", clip: ["4", 1] } };
  const text = {
    "6": { class_type: "CLIPTextEncode", inputs: { text: "{{prompt}}", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: "blurry, {{negative_prompt}}", clip: ["4", 1] } },
  };
  const save = { "9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "media-edge/out" } } };
  const workflows: Record<string, unknown> = {
    txt2img: {
      "3": sampler,
      "11": clipSkip,
      "5": { class_type: "EmptyLatentImage", inputs: { width: "{{width}}", height: "{{height}}", batch_size: 1 } },
      ...text,
      ...save,
    },
    img2img: { "3": sampler, "10": { class_type: "LoadImage", inputs: { image: "{{image}}" } }, ...text, ...save },
    video: {
      // Video jobs have no sampler: the workflow fixes its own.
      "3": { ...sampler, inputs: { ...sampler.inputs, denoise: 1, sampler_name: "euler", scheduler: "simple" } },
      ...text,
      "6": { class_type: "CLIPTextEncode", inputs: { text: "{{prompt}}, lit {{lighting_variant}}", clip: ["4", 1] } },
      "21": {
        class_type: "WanFirstLastFrameToVideo",
        inputs: { start_strength: "{{image_strength}}", end_strength: "{{last_image_strength}}" },
      },
      "20": {
        class_type: "VHS_VideoCombine",
        inputs: { length: "{{frames}}", frame_rate: "{{fps}}", width: "{{width}}", height: "{{height}}" },
      },
    },
    invalid: { "1": { class_type: "Invalid", inputs: {} } },
    unknown: { "3": { class_type: "KSampler", inputs: { cfg: "{{cfg_scale}}" } } },
  };
  const paths: Record<string, string> = {};
  for (const [name, workflow] of Object.entries(workflows)) {
    paths[name] = path.join(into, `${name}.json`);
    await writeFile(paths[name], JSON.stringify(workflow, null, 2));
  }
  return paths;
}
