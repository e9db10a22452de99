/**
 * video.compose@1 on real clips made by ffmpeg (tiny: 160x120, 1–2 s): copy
 * when clips are uniform, re-encoding only the GOPs under an overlay,
 * normalising mixed clips, the audio bed, escaping, and bad params. Every
 * output must decode without a single complaint. Plus the pure planning.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOB_TYPES } from "../../worker/contracts/job-types";
import { filterValue } from "../src/compose/filters";
import { findFont } from "../src/compose/font";
import { concatList } from "../src/compose/join";
import { chooseTarget, decodeChunks, fitInto, type Overlay, planOverlays } from "../src/compose/plan";
import type { VideoInfo } from "../src/compose/probe";
import { assertDecodesClean } from "../src/compose/verify";
import { JobError } from "../src/errors";
import { composeHandler } from "../src/handlers/compose";
import type { HandlerContext, HandlerResult, ProgressUpdate } from "../src/handlers/types";
import { makeGarbage } from "./helpers/clips";
import {
  brightPixels,
  decodeComplaints,
  drawnFrame,
  makeForeignClip,
  makeFormatClip,
  makeTone,
  meanVolume,
  streamDurations,
  videoPacketHashes,
} from "./helpers/compose-clips";
import { newJob } from "./helpers/fake-api";
import { must } from "./helpers/must";

const facts = JOB_TYPES.compose_video.facts;
let dir = "";
const clips: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "compose-test-"));
  const dark = { width: 160, height: 120, fps: 30, color: "0x203040" };
  const made = await Promise.all([
    makeFormatClip(dir, "a", { ...dark, seconds: 2, toneHz: 440 }),
    makeFormatClip(dir, "b", { ...dark, seconds: 2, toneHz: 660 }),
    makeFormatClip(dir, "c", { ...dark, seconds: 1, toneHz: 880 }),
    makeFormatClip(dir, "silent", { ...dark, seconds: 1 }),
    makeFormatClip(dir, "long", { ...dark, color: undefined, seconds: 5, toneHz: 500 }),
    makeForeignClip(dir, "wide", { width: 192, height: 108, fps: 25, seconds: 1.2 }),
    makeForeignClip(dir, "small", { width: 96, height: 72, fps: 25, seconds: 1, toneHz: 300 }),
    makeTone(dir, "bed", 5),
    makeGarbage(dir),
  ]);
  [clips.a, clips.b, clips.c, clips.silent, clips.long, clips.wide, clips.small, clips.bed, clips.garbage] = made;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  result: HandlerResult;
  output: string;
  progress: ProgressUpdate[];
}

async function compose(
  params: Record<string, unknown>,
  inputs: Record<string, string>,
  scratchName = "job-",
): Promise<Run> {
  const scratchDir = await mkdtemp(path.join(dir, scratchName));
  const progress: ProgressUpdate[] = [];
  const context: HandlerContext = {
    job: { ...newJob({}), job_type: "compose_video", params },
    inputs: new Map(
      Object.entries(inputs).map(([name, file]) => [
        name,
        { input: { name, url: "", content_type: "video/mp4", size_bytes: 0 }, path: file },
      ]),
    ),
    scratchDir,
    signal: new AbortController().signal,
    progress: (update) => progress.push(update),
  };
  const result = await composeHandler.run(context);
  const output = must(result.outputs?.[0], "an output").path;
  return { result, output, progress };
}

function overlay(text: string, start_s: number, end_s: number, extra: Partial<Overlay> = {}): Overlay {
  return { text, start_s, end_s, position: "center", font_size: 24, color: "#ffffff", ...extra };
}

describe("video.compose@1", () => {
  it("detects ffmpeg with drawtext and a font", async () => {
    const detection = await composeHandler.detect();
    expect(detection.available).toBe(true);
    expect(detection.detail).toMatch(/^ffmpeg version .*font \/.*\.(ttf|otf)$/);
  });

  it("concatenates uniform clips by copy: every video packet kept byte for byte", async () => {
    const { result, output, progress } = await compose({ clips: ["clip_0", "clip_1", "clip_2"] }, {
      clip_0: clips.a,
      clip_1: clips.b,
      clip_2: clips.c,
    } as Record<string, string>);
    expect(must(facts).parse(result.facts)).toEqual({
      duration_ms: expect.any(Number),
      width: 160,
      height: 120,
      fps: 30,
      method: "copy",
      reencoded_s: 0,
    });
    expect(Math.abs(Number(result.facts?.duration_ms) - 5000)).toBeLessThanOrEqual(50);
    expect(await decodeComplaints(output)).toBe("");
    const inputs = [
      ...(await videoPacketHashes(must(clips.a))),
      ...(await videoPacketHashes(must(clips.b))),
      ...(await videoPacketHashes(must(clips.c))),
    ];
    expect(await videoPacketHashes(output)).toEqual(inputs);
    const durations = await streamDurations(output);
    expect(Math.abs((durations.video ?? 0) - 5)).toBeLessThanOrEqual(0.05);
    expect(Math.abs((durations.audio ?? 0) - 5)).toBeLessThanOrEqual(0.05);
    expect(result.outputs).toEqual([{ kind: "video", path: output, contentType: "video/mp4" }]);

    const stages = [...new Set(progress.map((p) => p.stage))];
    expect(stages).toEqual(["probing", "concatenating", "mixing audio", "verifying"]);
    const fractions = progress.map((p) => p.fraction);
    expect(fractions).toEqual([...fractions].sort((x, y) => x - y));
    expect(fractions.at(-1)).toBe(1);
  });

  it("re-encodes only the GOPs under an overlay, and the text shows only inside its window", async () => {
    const { result, output, progress } = await compose(
      { clips: ["clip_0", "clip_1"], overlays: [overlay("HELLO", 2.2, 2.6)] },
      { clip_0: clips.a, clip_1: clips.b } as Record<string, string>,
    );
    expect(result.facts).toMatchObject({ method: "copy", reencoded_s: 1 });
    expect(Number(result.facts?.reencoded_s)).toBeLessThanOrEqual(0.4 + 2);
    expect(await decodeComplaints(output)).toBe("");
    expect(await brightPixels(output, 2.4)).toBeGreaterThan(50);
    expect(await brightPixels(output, 1.5)).toBe(0);
    expect(await brightPixels(output, 2.1)).toBe(0);
    expect(await brightPixels(output, 2.8)).toBe(0);
    // The first clip and the second clip's last second are the inputs' own packets.
    const out = await videoPacketHashes(output);
    const [first, second] = [await videoPacketHashes(must(clips.a)), await videoPacketHashes(must(clips.b))];
    expect(out.slice(0, 60)).toEqual(first);
    expect(out.slice(60, 90)).not.toEqual(second.slice(0, 30));
    expect(out.slice(90)).toEqual(second.slice(30));
    expect(progress.filter((p) => p.stage === "overlays").map((p) => p.message)).toContain("1/1");
  });

  it("escapes text for the filtergraph: quotes, colons, backslashes, percent, brackets", async () => {
    const nasty = `It's "quoted": 100% \\ back\\\\slash [a,b]; c=d %{pts} \`x\` $(y)`;
    const font = must(await findFont(), "a font");
    // Drawn through the escaped text= option and through a file (no escaping at all): the same pixels.
    const escaped = await drawnFrame(`text=${filterValue(nasty)}`, filterValue(font));
    const textFile = path.join(dir, "nasty.txt");
    await writeFile(textFile, nasty);
    expect(escaped.equals(await drawnFrame(`textfile=${filterValue(textFile)}`, filterValue(font)))).toBe(true);
    expect(escaped.some((luma) => luma > 200)).toBe(true);

    // And through the handler, from a scratch dir whose path needs quoting in concat lists too.
    const { result, output } = await compose(
      { clips: ["clip_0", "clip_1"], overlays: [overlay(nasty, 0.5, 1.5, { position: "bottom", font_size: 10 })] },
      { clip_0: clips.a, clip_1: clips.c } as Record<string, string>,
      "it's [a,b]; 100%: x=",
    );
    expect(result.facts).toMatchObject({ method: "copy", reencoded_s: 2 });
    expect(await decodeComplaints(output)).toBe("");
    expect(await brightPixels(output, 1)).toBeGreaterThan(20);
  });

  it("normalises mixed clips (sizes, frame rates, a clip without sound) into the largest one's frame", async () => {
    const { result, output } = await compose(
      { clips: ["clip_0", "clip_1", "clip_2"], overlays: [overlay("MIX", 0.8, 1.3)] },
      { clip_0: clips.a, clip_1: clips.wide, clip_2: clips.c } as Record<string, string>,
    );
    expect(result.facts).toMatchObject({ method: "normalised", width: 192, height: 108, fps: 25 });
    expect(Math.abs(Number(result.facts?.duration_ms) - 4200)).toBeLessThanOrEqual(80);
    expect(result.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^clip_0 normalised: size/)]));
    expect(await decodeComplaints(output)).toBe("");
    const durations = await streamDurations(output);
    expect(Math.abs((durations.audio ?? 0) - (durations.video ?? 0))).toBeLessThanOrEqual(0.05);
    expect(await brightPixels(output, 1)).toBeGreaterThan(20);
  });

  it("normalises only the clip that differs when the others already match the clip format", async () => {
    const { result, output } = await compose({ clips: ["clip_0", "clip_1", "clip_2"] }, {
      clip_0: clips.small,
      clip_1: clips.a,
      clip_2: clips.silent,
    } as Record<string, string>);
    expect(result.facts).toMatchObject({ method: "normalised", width: 160, height: 120, fps: 30 });
    expect(result.metrics).toMatchObject({ normalised_clips: 1 });
    expect(result.warnings).toEqual([expect.stringMatching(/^clip_0 normalised: /)]);
    expect(await decodeComplaints(output)).toBe("");
    // clip_1 and clip_2 are copied: their packets follow clip_0's 30 re-encoded frames unchanged.
    const out = await videoPacketHashes(output);
    expect(out.slice(30)).toEqual([
      ...(await videoPacketHashes(must(clips.a))),
      ...(await videoPacketHashes(must(clips.silent))),
    ]);
  });

  it("mixes an audio bed under silent clips: trimmed to the video, faded in and out, video still copied", async () => {
    const { result, output } = await compose(
      { clips: ["clip_0", "clip_1"], audio: { volume: 0.5, fade_in_s: 0.5, fade_out_s: 0.5 } },
      { clip_0: clips.silent, clip_1: clips.silent, audio: clips.bed } as Record<string, string>,
    );
    expect(result.facts).toMatchObject({ method: "copy", reencoded_s: 0 });
    const durations = await streamDurations(output);
    expect(Math.abs((durations.audio ?? 0) - 2)).toBeLessThanOrEqual(0.05);
    expect(Math.abs((durations.video ?? 0) - 2)).toBeLessThanOrEqual(0.05);
    expect(await decodeComplaints(output)).toBe("");
    const [start, middle, end] = await Promise.all([
      meanVolume(output, 0, 0.1),
      meanVolume(output, 0.8, 0.4),
      meanVolume(output, 1.9, 0.1),
    ]);
    expect(middle).toBeGreaterThan(-40);
    expect(start).toBeLessThan(middle - 6);
    expect(end).toBeLessThan(middle - 6);
    const bed = await meanVolume(must(clips.bed), 0.8, 0.4);
    expect(Math.abs(middle - (bed - 6))).toBeLessThanOrEqual(1.5); // volume 0.5 ≈ -6 dB
  });

  it("stops when the job is aborted, leaving nothing in its scratch dir", async () => {
    const controller = new AbortController();
    const scratchDir = await mkdtemp(path.join(dir, "abort-"));
    const context: HandlerContext = {
      job: {
        ...newJob({}),
        job_type: "compose_video",
        params: { clips: ["clip_0", "clip_1"], overlays: [overlay("x", 0, 1)] },
      },
      inputs: new Map(
        [
          ["clip_0", must(clips.a)],
          ["clip_1", must(clips.b)],
        ].map(([name, file]) => [
          name as string,
          { input: { name: name as string, url: "", content_type: "video/mp4", size_bytes: 0 }, path: file as string },
        ]),
      ),
      scratchDir,
      signal: controller.signal,
      progress: (update) => {
        if (update.stage === "overlays") controller.abort(new Error("lease lost"));
      },
    };
    await expect(composeHandler.run(context)).rejects.toThrow("lease lost");
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it("verifies by decoding: a clean file passes, bytes broken mid-stream fail as output_invalid", async () => {
    const file = must(clips.long);
    await expect(
      assertDecodesClean(file, { signal: new AbortController().signal, durationS: 5, joins: [] }),
    ).resolves.toBe(undefined);
    const broken = path.join(dir, "broken.mp4");
    const bytes = await readFile(file);
    bytes.fill(0xff, Math.floor(bytes.length * 0.6), Math.floor(bytes.length * 0.6) + 64);
    await writeFile(broken, bytes);
    const error = await assertDecodesClean(broken, {
      signal: new AbortController().signal,
      durationS: 5,
      joins: [],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "output_invalid", retryable: true });
    expect((error as Error).message).toMatch(/Invalid NAL unit size|error while decoding/i);
  });

  it("fails a clip name that is not an input as invalid_params, not retryable", async () => {
    const error = await compose({ clips: ["clip_0", "clip_7"] }, { clip_0: must(clips.a) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobError);
    expect(error).toMatchObject({ code: "invalid_params", retryable: false });
    expect((error as JobError).message).toMatch(/clip_7/);
  });

  it("fails params outside the schema as invalid_params, not retryable", async () => {
    const params = { clips: ["clip_0"], overlays: [{ text: "x", start_s: 2, end_s: 1 }] };
    const error = await compose(params, { clip_0: must(clips.a) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_params", retryable: false });
  });

  it("fails an unreadable clip as unreadable_media, not retryable", async () => {
    const error = await compose({ clips: ["clip_0"] }, { clip_0: must(clips.garbage) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "unreadable_media", retryable: false });
  });
});

describe("composition planning", () => {
  const keyframes = [0, 1, 2, 3, 4, 5].map((s) => ({ frame: s * 30, timeS: s }));
  const video = { keyframes, frames: 180, durationS: 6 };

  it("cuts at the keyframes around each overlay and merges spans that touch", () => {
    const plan = planOverlays([overlay("a", 1.5, 2.5), overlay("b", 2.5, 3), overlay("c", 5.2, 9)], video);
    expect(plan.pieces.map((p) => [p.startFrame, p.endFrame, p.overlays.map((o) => o.text).join("")])).toEqual([
      [0, 30, ""],
      [30, 90, "ab"],
      [90, 150, ""],
      [150, 180, "c"],
    ]);
    expect(plan.reencodedS).toBe(3);
    expect(plan.warnings).toEqual([expect.stringMatching(/"c" ends after the video/)]);
  });

  it("ends a span at a keyframe that the overlay ends on, and skips overlays after the end", () => {
    const plan = planOverlays([overlay("a", 0, 2), overlay("late", 6, 7)], video);
    expect(plan.pieces.map((p) => [p.startFrame, p.endFrame])).toEqual([
      [0, 60],
      [60, 180],
    ]);
    expect(plan.reencodedS).toBe(2);
    expect(plan.warnings).toEqual([expect.stringMatching(/"late" starts at 6 s, after the video ends/)]);
  });

  it("takes the largest clip's frame and fits others inside it with even sizes", () => {
    const video = (width: number, height: number, frameRate: string): VideoInfo => ({
      index: 0,
      codec: "h264",
      profile: "High",
      width,
      height,
      displayWidth: width,
      displayHeight: height,
      pixFmt: "yuv420p",
      frameRate,
      fps: 0,
      timeBase: "1/15360",
      startS: 0,
      durationS: 1,
      extradata: "",
      rotation: 0,
    });
    const { target, index } = chooseTarget([
      video(640, 480, "30/1"),
      video(1280, 720, "25/1"),
      video(720, 1280, "24/1"),
    ]);
    expect([target.width, target.height, target.frameRate, index]).toEqual([1280, 720, "25/1", 1]);
    expect(fitInto({ width: 640, height: 480 }, target)).toEqual({ width: 960, height: 720, x: 160, y: 0 });
    expect(fitInto({ width: 720, height: 1280 }, target)).toEqual({ width: 404, height: 720, x: 438, y: 0 });
  });

  it("starts decode chunks at keyframes near even divisions, never at a join", () => {
    expect(decodeChunks(keyframes, [], 6, 2)).toEqual([3]);
    expect(decodeChunks(keyframes, [3], 6, 2)).toEqual([2]);
    expect(decodeChunks(keyframes, [1, 2, 3, 4, 5], 6, 3)).toEqual([]);
    expect(decodeChunks(keyframes, [2], 6, 4)).toEqual([1, 3, 4]);
  });

  it("quotes concat list paths", () => {
    expect(concatList([{ file: "/tmp/it's.mp4", durationS: 2 }])).toBe(
      "ffconcat version 1.0\nfile '/tmp/it'\\''s.mp4'\nduration 2.000000\n",
    );
  });
});
