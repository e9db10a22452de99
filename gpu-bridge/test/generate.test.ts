/**
 * image.generate@1 and video.generate@1 with the local provider, on real
 * ffmpeg: determinism, exact sizes, frame counts and rates, visible motion,
 * i2v / img2img / last_image fidelity, the "not a model" labels, and the
 * facts against the contract's schemas.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_TYPES, type JobType } from "../../worker/contracts/job-types";
import { JobError } from "../src/errors";
import { createGenerateImageHandler } from "../src/handlers/generate-image";
import { createGenerateVideoHandler } from "../src/handlers/generate-video";
import type { HandlerContext, HandlerResult, ProgressUpdate } from "../src/handlers/types";
import { LOCAL_MODEL } from "../src/providers/local";
import { createProviderRegistry } from "../src/providers/registry";
import { makeGarbage } from "./helpers/clips";
import { newJob } from "./helpers/fake-api";
import { countFrames, expectClip, makeImage, meanAbsDiff, probeTags, rawFrames } from "./helpers/frames";
import { must } from "./helpers/must";

const registry = () => createProviderRegistry({});
const imageHandler = createGenerateImageHandler(registry);
const videoHandler = createGenerateVideoHandler(registry);

let dir = "";
const pictures = { bars: "", chart: "" };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "generate-test-"));
  [pictures.bars, pictures.chart] = await Promise.all([
    makeImage(dir, "bars.png", "smptebars", 200, 120),
    makeImage(dir, "chart.png", "testsrc2", 90, 90),
  ]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let runs = 0;

/** Runs a handler in its own scratch dir, as the runner would. */
async function run(
  jobType: JobType,
  params: Record<string, unknown>,
  inputs: Record<string, string> = {},
  options: { onProgress?: (update: ProgressUpdate) => void; signal?: AbortSignal } = {},
): Promise<HandlerResult & { file: string }> {
  const scratchDir = await mkdtemp(path.join(dir, `job-${runs++}-`));
  const context: HandlerContext = {
    job: { ...newJob({}), job_type: jobType, params },
    inputs: new Map(
      Object.entries(inputs).map(([name, file]) => [
        name,
        { input: { name, url: "", content_type: "image/png", size_bytes: 0 }, path: file },
      ]),
    ),
    scratchDir,
    signal: options.signal ?? new AbortController().signal,
    progress: (update) => options.onProgress?.(update),
  };
  const handler = jobType === "generate_image" ? imageHandler : videoHandler;
  const result = await handler.run(context);
  return { ...result, file: must(result.outputs?.[0]).path };
}

const image = (params: Record<string, unknown>, inputs?: Record<string, string>) =>
  run("generate_image", { prompt: "a lighthouse at dusk", seed: 1, width: 64, height: 48, ...params }, inputs);
const video = (params: Record<string, unknown>, inputs?: Record<string, string>) =>
  run(
    "generate_video",
    { prompt: "waves rolling in", seed: 1, width: 96, height: 64, fps: 12, frames: 12, ...params },
    inputs,
  );

const rgb = (file: string, width = 32, height = 24) => rawFrames(file, { width, height, format: "rgb24" });

describe("generate_image with the local provider", () => {
  it("detects ffmpeg and lists the providers", async () => {
    const detection = await imageHandler.detect();
    expect(detection).toMatchObject({ available: true });
    expect(detection.detail).toMatch(/^ffmpeg version .*providers: local$/);
  });

  it("reproduces the same PNG byte for byte from the same prompt and seed", async () => {
    const [first, second] = await Promise.all([image({}), image({})]);
    expect((await readFile(first.file)).equals(await readFile(second.file))).toBe(true);
  });

  it("draws a visibly different picture for another seed or another prompt", async () => {
    const [base, reseeded, reworded] = await Promise.all([
      image({}),
      image({ seed: 2 }),
      image({ prompt: "a lighthouse at dawn" }),
    ]);
    const [basePixels, seedPixels, promptPixels] = await Promise.all(
      [base, reseeded, reworded].map((r) => rgb(r.file)),
    );
    for (const other of [reseeded, reworded]) {
      expect((await readFile(base.file)).equals(await readFile(other.file))).toBe(false);
    }
    const first = (frames: Buffer[] | undefined) => must(frames?.[0]);
    expect(meanAbsDiff(first(basePixels), first(seedPixels))).toBeGreaterThan(20);
    expect(meanAbsDiff(first(basePixels), first(promptPixels))).toBeGreaterThan(20);
  });

  it("lets steps, guidance and the negative prompt change the picture a little (less than a new seed does)", async () => {
    const variants = await Promise.all([
      image({}),
      image({ seed: 2 }),
      image({ steps: 80 }),
      image({ guidance: 0 }),
      image({ negative_prompt: "fog" }),
    ]);
    const [base, reseeded, ...nudged] = await Promise.all(variants.map(async (r) => must((await rgb(r.file))[0])));
    const seedChange = meanAbsDiff(must(base), must(reseeded));
    for (const other of nudged) {
      const change = meanAbsDiff(must(base), other);
      expect(change).toBeGreaterThan(3);
      expect(change).toBeLessThan(seedChange / 2);
    }
  });

  it("is exactly the requested size, labelled as not a model in the facts and in the file", async () => {
    const result = await image({ width: 75, height: 53, seed: 4_000_000_000 });
    const facts = JOB_TYPES.generate_image.facts.parse(result.facts);
    expect(facts).toEqual({
      provider: "local",
      model: LOCAL_MODEL,
      is_model: false,
      seed: 4_000_000_000,
      width: 75,
      height: 53,
    });
    expect(result.outputs).toEqual([
      { kind: "image", path: result.file, contentType: "image/png" },
      { kind: "preview", path: expect.stringMatching(/preview\.jpg$/), contentType: "image/jpeg" },
    ]);
    expect(result.warnings?.join(" ")).toMatch(/not a generative model/);
    const stream = await countFrames(result.file);
    expect(stream).toMatchObject({ codec_name: "png", width: 75, height: 53 });
    const tags = await probeTags(result.file);
    expect(tags.frame.Comment).toMatch(/local provider.*not made by a generative model/);
  });

  it("uploads a JPEG preview, 512 px on its longer side at most (never upscaled), of the same picture", async () => {
    const large = await image({ width: 1024, height: 640 });
    const preview = must(large.outputs?.[1]).path;
    expect(await countFrames(preview)).toMatchObject({ codec_name: "mjpeg", width: 512, height: 320 });
    const other = await image({ width: 1024, height: 640, seed: 2 });
    // Brightness only: JPEG halves the colour resolution, which moves colour edges a little.
    const look = async (file: string) => must((await rawFrames(file, { width: 32, height: 20, format: "gray" }))[0]);
    const [picture, small, unlike] = await Promise.all([look(large.file), look(preview), look(other.file)]);
    expect(meanAbsDiff(picture, small)).toBeLessThan(6);
    expect(meanAbsDiff(picture, unlike)).toBeGreaterThan(20);
    const tiny = await image({ width: 64, height: 48 });
    expect(await countFrames(must(tiny.outputs?.[1]).path)).toMatchObject({ width: 64, height: 48 });
  });

  it("img2img stays close to the given image at low strength and moves away at high strength", async () => {
    const [low, high] = await Promise.all([
      image({ width: 100, height: 60, strength: 0.1 }, { image: pictures.bars }),
      image({ width: 100, height: 60, strength: 0.9 }, { image: pictures.bars }),
    ]);
    // The source has the same 5:3 shape, so "fitted to the size" is a plain scale.
    const source = must((await rgb(pictures.bars, 50, 30))[0]);
    const lowDiff = meanAbsDiff(source, must((await rgb(low.file, 50, 30))[0]));
    const highDiff = meanAbsDiff(source, must((await rgb(high.file, 50, 30))[0]));
    expect(lowDiff).toBeLessThan(15);
    expect(highDiff).toBeGreaterThan(40);
    expect(JOB_TYPES.generate_image.facts.parse(low.facts)).toMatchObject({ width: 100, height: 60, is_model: false });
  });

  it("reports progress in stages, ending with verification", async () => {
    const progress: ProgressUpdate[] = [];
    await run(
      "generate_image",
      { prompt: "x", seed: 9, width: 32, height: 32 },
      {},
      { onProgress: (u) => progress.push(u) },
    );
    expect(progress.map((p) => p.stage)).toEqual(["rendering", "rendering", "rendering", "verifying"]);
    const fractions = progress.map((p) => p.fraction);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
  });

  it("refuses bad params and unknown providers as not retryable", async () => {
    const bad = await image({ width: 8 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(JobError);
    expect(bad).toMatchObject({ code: "invalid_params", retryable: false });
    expect((bad as Error).message).toMatch(/width/);
    const unknown = await image({ provider: "midjourney" }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: "provider_unavailable", retryable: false });
    expect((unknown as Error).message).toMatch(/"midjourney".*available: local/);
  });

  it("fails unreadable input images as unreadable_media, not retryable", async () => {
    const error = await image({}, { image: await makeGarbage(dir) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "unreadable_media", retryable: false });
  });
});

describe("generate_video with the local provider", () => {
  it("renders exactly `frames` frames at `fps` in the clip format, rounding an odd size down", async () => {
    const result = await video({ width: 75, height: 53, fps: 8, frames: 12 });
    const facts = JOB_TYPES.generate_video.facts.parse(result.facts);
    expect(facts).toEqual({
      provider: "local",
      model: LOCAL_MODEL,
      is_model: false,
      seed: 1,
      width: 74,
      height: 52,
      fps: 8,
      frames: 12,
      duration_ms: 1500,
      requested_width: 75,
      requested_height: 53,
    });
    expect(result.warnings?.[0]).toMatch(/75x53 to 74x52/);
    await expectClip(result.file, { width: 74, height: 52, fps: 8, frames: 12 });
    expect((await probeTags(result.file)).format.comment).toMatch(/not made by a generative model/);
  });

  it("moves: every frame differs from the one before, and the last clearly from the first", async () => {
    const result = await video({ frames: 10 });
    const frames = await rawFrames(result.file, { width: 48, height: 32, format: "gray" });
    expect(frames).toHaveLength(10);
    for (let i = 1; i < frames.length; i++) {
      expect(meanAbsDiff(must(frames[i - 1]), must(frames[i]))).toBeGreaterThan(0.5);
    }
    expect(meanAbsDiff(must(frames[0]), must(frames.at(-1)))).toBeGreaterThan(10);
  });

  it("i2v starts on the given image and then moves away from it; a lower image_strength starts off it", async () => {
    const [full, faint] = await Promise.all([
      video({ width: 120, height: 72, frames: 12, image_strength: 1 }, { image: pictures.bars }),
      video({ width: 120, height: 72, frames: 12, image_strength: 0.3 }, { image: pictures.bars }),
    ]);
    const frames = await rawFrames(full.file, { width: 60, height: 36, format: "gray" });
    const source = must((await rawFrames(pictures.bars, { width: 60, height: 36, format: "gray" }))[0]);
    expect(meanAbsDiff(source, must(frames[0]))).toBeLessThan(8);
    expect(meanAbsDiff(source, must(frames.at(-1)))).toBeGreaterThan(15);
    expect(meanAbsDiff(must(frames[0]), must(frames[1]))).toBeGreaterThan(0);
    // At 0.3 the scene shows through the first frame: it is measurably not the image.
    const faintFirst = must((await rawFrames(faint.file, { width: 60, height: 36, format: "gray" }))[0]);
    expect(meanAbsDiff(source, faintFirst)).toBeGreaterThan(30);
  });

  it("ends exactly on last_image, fitted to the size", async () => {
    const result = await video(
      { width: 96, height: 64, frames: 12 },
      { image: pictures.bars, last_image: pictures.chart },
    );
    const frames = await rawFrames(result.file, { width: 48, height: 32, format: "gray" });
    // chart.png is square: fitted to 3:2 it loses its top and bottom.
    const last = must((await rawFrames(pictures.chart, { width: 48, height: 32, format: "gray", cover: true }))[0]);
    expect(meanAbsDiff(last, must(frames.at(-1)))).toBeLessThan(8);
    expect(meanAbsDiff(last, must(frames[0]))).toBeGreaterThan(15);
    // From a prompt alone too: the pattern crossfades onto it.
    const t2v = await video({ width: 96, height: 64, frames: 12 }, { last_image: pictures.chart });
    const t2vFrames = await rawFrames(t2v.file, { width: 48, height: 32, format: "gray" });
    expect(meanAbsDiff(last, must(t2vFrames.at(-1)))).toBeLessThan(8);
    expect(meanAbsDiff(last, must(t2vFrames[0]))).toBeGreaterThan(15);
    // A lower last_image_strength only tints the last frame.
    const faint = await video(
      { width: 96, height: 64, frames: 12, last_image_strength: 0.3 },
      { last_image: pictures.chart },
    );
    const faintFrames = await rawFrames(faint.file, { width: 48, height: 32, format: "gray" });
    expect(meanAbsDiff(last, must(faintFrames.at(-1)))).toBeGreaterThan(30);
  });

  it("previews a clip with a JPEG of its first frame", async () => {
    const result = await video({ width: 96, height: 64, frames: 12 }, { image: pictures.bars });
    expect(result.outputs?.map((output) => output.kind)).toEqual(["video", "preview"]);
    const preview = must(result.outputs?.[1]).path;
    expect(await countFrames(preview)).toMatchObject({ codec_name: "mjpeg", width: 96, height: 64 });
    const first = must((await rawFrames(result.file, { width: 48, height: 32, format: "gray" }))[0]);
    const shown = must((await rawFrames(preview, { width: 48, height: 32, format: "gray" }))[0]);
    expect(meanAbsDiff(first, shown)).toBeLessThan(4);
  });

  it("passes through each keyframe at its index, weighted by its strength", async () => {
    const keyframes = [
      { input: "frame_0", index: 0, strength: 1 },
      { input: "frame_9", index: 9, strength: 1 },
    ];
    const result = await video(
      { width: 96, height: 64, frames: 17, keyframes },
      { frame_0: pictures.chart, frame_9: pictures.bars },
    );
    const frames = await rawFrames(result.file, { width: 48, height: 32, format: "gray" });
    expect(frames).toHaveLength(17);
    const look = async (file: string) =>
      must((await rawFrames(file, { width: 48, height: 32, format: "gray", cover: true }))[0]);
    const [chart, bars] = await Promise.all([look(pictures.chart), look(pictures.bars)]);
    expect(meanAbsDiff(chart, must(frames[0]))).toBeLessThan(8);
    expect(meanAbsDiff(bars, must(frames[9]))).toBeLessThan(8);
    // Between and after them the scene shows through.
    expect(meanAbsDiff(bars, must(frames[4]))).toBeGreaterThan(15);
    expect(meanAbsDiff(bars, must(frames[16]))).toBeGreaterThan(15);
    // A weaker keyframe only tints its frame.
    const faint = await video(
      { width: 96, height: 64, frames: 17, keyframes: [{ input: "frame_9", index: 9, strength: 0.3 }] },
      { frame_9: pictures.bars },
    );
    const faintFrames = await rawFrames(faint.file, { width: 48, height: 32, format: "gray" });
    expect(meanAbsDiff(bars, must(faintFrames[9]))).toBeGreaterThan(15);
  });

  it("refuses keyframes for a provider that cannot pin them, as not retryable", async () => {
    const plain = createGenerateVideoHandler(() => ({
      get: () => ({ ...createProviderRegistry({}).get("local"), keyframes: false }),
      names: () => ["local"],
    }));
    const error = await plain
      .run({
        job: {
          ...newJob({}),
          job_type: "generate_video",
          params: {
            prompt: "x",
            seed: 1,
            width: 32,
            height: 32,
            fps: 8,
            frames: 5,
            keyframes: [{ input: "frame_1", index: 1 }],
          },
        },
        inputs: new Map(),
        scratchDir: dir,
        signal: new AbortController().signal,
        progress: () => undefined,
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "unsupported_params", retryable: false });
  });

  it("reproduces the same pictures from the same prompt and seed", async () => {
    const [a, b, c] = await Promise.all([video({}), video({}), video({ seed: 2 })]);
    const [fa, fb, fc] = await Promise.all(
      [a, b, c].map((r) => rawFrames(r.file, { width: 48, height: 32, format: "rgb24" })),
    );
    expect(meanAbsDiff(must(fa?.[5]), must(fb?.[5]))).toBe(0);
    expect(meanAbsDiff(must(fa?.[5]), must(fc?.[5]))).toBeGreaterThan(20);
  });

  it("stops ffmpeg and rejects when the job is aborted mid-render", async () => {
    const controller = new AbortController();
    const started = performance.now();
    const running = run(
      "generate_video",
      { prompt: "long", seed: 3, width: 640, height: 360, fps: 30, frames: 2000 },
      {},
      { signal: controller.signal, onProgress: (u) => u.fraction > 0 && controller.abort(new Error("lease lost")) },
    );
    await expect(running).rejects.toThrow("lease lost");
    // 2000 frames would take minutes here: it stopped when asked, not when done.
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
