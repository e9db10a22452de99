/**
 * `video.compose@1` (job type compose_video): clips → one MP4 with timed text
 * and an optional audio bed, re-encoding as little video as it can.
 *
 * 1. probing: every clip (and the bed) with ffprobe.
 * 2. normalising k/N: clips that cannot be stream-copied next to the others
 *    are re-encoded into the clip format at the target frame (decide.ts).
 * 3. concatenating: the clips' video joined by copy (concat demuxer).
 * 4. overlays k/N: only the keyframe-bounded pieces under the overlays are
 *    re-encoded with drawtext; the rest stays copied (overlays.ts).
 * 5. mixing audio: the clips' sound end to end, the bed mixed under it; then
 *    video and audio are muxed by copy (audio.ts, join.ts).
 * 6. verifying: ffprobe the output, then decode all of it, which must not
 *    print a single complaint (verify.ts).
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { JOB_TYPES } from "../../../worker/contracts/job-types";
import { AudioBuild, type Bed } from "../compose/audio";
import { type ClipVideo, type Decision, decide } from "../compose/decide";
import { findFont } from "../compose/font";
import { concatList, joinVideo, muxOutput } from "../compose/join";
import { normaliseClip } from "../compose/normalise";
import { applyOverlays } from "../compose/overlays";
import { type Overlay, planOverlays } from "../compose/plan";
import { keyframes, type MediaInfo, probeMedia } from "../compose/probe";
import { StagedProgress } from "../compose/stages";
import { assertDecodesClean } from "../compose/verify";
import { JobError } from "../errors";
import { runTool } from "../ffmpeg";
import { verifyOutput } from "../media/encode";
import { detectFfmpeg, listEncoders } from "../media/encoders";
import { parseParams } from "./params";
import type { Handler, HandlerContext, HandlerResult } from "./types";

/** The handler's bar: probing takes the first 5 %, the stages share the rest by expected cost. */
const PROBING_SHARE = 0.05;
const PROBE_CONCURRENCY = 4;

export const composeHandler: Handler = {
  capability: "video.compose@1",
  jobType: "compose_video",

  async detect(signal) {
    const [tools, font] = await Promise.all([detectFfmpeg(signal), findFont(signal)]);
    if (!tools.available) return tools;
    const missing = await missingFeatures(signal);
    if (missing.length > 0) return { available: false, detail: `ffmpeg lacks ${missing.join(", ")} (${tools.detail})` };
    if (!font) return { available: false, detail: "no TrueType font for overlays (install fonts-dejavu-core)" };
    return { available: true, detail: `${tools.detail}; font ${font}` };
  },

  run: compose,
};

/** drawtext exists only in builds with libfreetype; the clip format needs libx264 and the native AAC encoder. */
async function missingFeatures(signal?: AbortSignal): Promise<string[]> {
  const [filters, encoders] = await Promise.all([
    runTool("ffmpeg", ["-hide_banner", "-filters"], { signal, timeoutMs: 10_000 }),
    listEncoders(signal),
  ]);
  return [
    ...(/\sdrawtext\s/.test(filters.stdout) ? [] : ["the drawtext filter"]),
    ...(encoders.has("libx264") ? [] : ["the libx264 encoder"]),
    ...(encoders.has("aac") ? [] : ["the aac encoder"]),
  ];
}

interface Clip extends ClipVideo {
  media: MediaInfo;
}

async function compose(context: HandlerContext): Promise<HandlerResult> {
  const started = performance.now();
  const { signal } = context;
  const params = parseParams(JOB_TYPES.compose_video.params, context);
  const warnings: string[] = [];
  const metrics: Record<string, number> = {};
  const timed = async <T>(metric: string, step: () => Promise<T>): Promise<T> => {
    const at = performance.now();
    try {
      return await step();
    } finally {
      metrics[metric] = Math.round(performance.now() - at);
    }
  };

  const clipFiles = params.clips.map((name) => {
    const input = context.inputs.get(name);
    if (!input)
      throw new JobError("invalid_params", `params.clips names ${name}, which is not an input of the job`, false);
    return { name, path: input.path };
  });
  const unused = [...context.inputs.keys()].filter((name) => name.startsWith("clip_") && !params.clips.includes(name));
  if (unused.length > 0) warnings.push(`inputs not named in params.clips, left out: ${unused.join(", ")}`);
  const bedFile = context.inputs.get("audio")?.path;
  if (params.audio && !bedFile) warnings.push("params.audio ignored: the job has no audio input");
  const { volume = 1, fade_in_s = 0, fade_out_s = 0 } = params.audio ?? {};

  const hasOverlays = params.overlays.length > 0;
  const fontFile = hasOverlays ? await findFont(signal) : null;
  if (hasOverlays && !fontFile) {
    throw new JobError("tool_missing", "no TrueType font for overlays on this host (install fonts-dejavu-core)", true);
  }

  const work = path.join(context.scratchDir, "compose");
  await mkdir(work, { recursive: true });
  try {
    const { clips, bed } = await timed("probe_ms", async () => {
      const clips = await probeClips(clipFiles, context);
      if (bedFile) await probeBed(bedFile, signal);
      context.progress({ fraction: PROBING_SHARE, stage: "probing", message: `${clips.length} clips` });
      const bed: Bed | null = bedFile ? { path: bedFile, volume, fadeInS: fade_in_s, fadeOutS: fade_out_s } : null;
      return { clips, bed };
    });

    const decision = await timed("decide_ms", () => decide(clips, { overlays: hasOverlays, workDir: work, signal }));
    warnings.push(...decision.reasons);
    const stages = planStages(context, clips, decision, params.overlays);

    const entries = await timed("normalise_ms", () => normaliseClips(clips, decision, work, stages, signal));
    const durationS = entries.reduce((sum, entry) => sum + entry.durationS, 0);
    // Where clips (and later, copied and re-encoded pieces) meet: the decode check keeps them whole.
    let at = 0;
    const joins = entries.slice(0, -1).map((entry) => (at += entry.durationS));

    const audio = path.join(work, "audio.m4a");
    const sounds = clips.map((clip, i) => ({
      path: clip.path,
      hasAudio: clip.media.hasAudio,
      durationS: entries[i]?.durationS ?? 0,
    }));
    const audioBuild = new AudioBuild(sounds, bed, audio, signal);
    let video: { path: string; concat: boolean };
    let reencodedS = 0;
    try {
      const joined = path.join(work, "joined.mp4");
      await timed("concat_ms", async () => {
        stages.update("concatenating", 0, `${clips.length} clips`);
        const list = path.join(work, "clips.ffconcat");
        await writeFile(list, concatList(entries));
        const onProgress = (fraction: number) => stages.update("concatenating", fraction);
        await joinVideo(list, joined, { signal, durationMs: durationS * 1000, onProgress });
      });
      video = { path: joined, concat: false };
      if (hasOverlays && fontFile) {
        await timed("overlay_ms", async () => {
          stages.update("overlays", 0, "finding keyframes");
          const plan = planOverlays(params.overlays, { ...(await keyframes(joined, signal)), durationS });
          warnings.push(...plan.warnings);
          if (!plan.pieces.some((piece) => piece.overlays.length > 0)) return;
          const list = await applyOverlays(joined, plan, decision.target, work, {
            signal,
            fontFile,
            onStep: (index, count) => stages.step("overlays", index, count, `${index + 1}/${count}`),
          });
          video = { path: list, concat: true };
          reencodedS = plan.reencodedS;
          joins.push(...plan.pieces.map((piece) => piece.startS));
        });
      }
    } catch (error) {
      await audioBuild.stop();
      throw error;
    }

    const output = path.join(context.scratchDir, "composed.mp4");
    await timed("audio_wait_ms", async () => {
      stages.update("mixing audio", 0, bed ? "the clips' sound and the bed" : "the clips' sound");
      await audioBuild.finish((f) => stages.update("mixing audio", f * 0.9));
      await muxOutput(video, audio, output, { signal, durationMs: durationS * 1000 });
    });

    const { width, height, fps } = decision.target;
    const durationMs = Math.round(durationS * 1000);
    const probe = await timed("verify_ms", async () => {
      stages.update("verifying", 0, "ffprobe, then a full decode");
      const expectation = {
        video: { codec: "h264", width, height, pixFmt: decision.pixFmt },
        audio: { codec: "aac" },
        durationMs,
        durationToleranceMs: Math.max(150, Math.ceil(2000 / fps)),
      };
      const probed = await verifyOutput(output, expectation, signal);
      const onProgress = (fraction: number) => stages.update("verifying", fraction);
      await assertDecodesClean(output, { signal, durationS, joins, onProgress });
      return probed;
    });
    stages.update("verifying", 1, "decodes clean");

    metrics.total_ms = Math.round(performance.now() - started);
    metrics.normalised_clips = decision.normalise.length;
    return {
      facts: {
        duration_ms: Math.round(Number(probe.format?.duration ?? durationS) * 1000),
        width,
        height,
        fps,
        method: decision.normalise.length > 0 ? "normalised" : "copy",
        reencoded_s: reencodedS,
      },
      warnings,
      metrics,
      outputs: [{ kind: "video", path: output, contentType: "video/mp4" }],
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Every distinct clip file probed, a few at a time; a clip must have video frames. */
async function probeClips(files: readonly { name: string; path: string }[], context: HandlerContext): Promise<Clip[]> {
  const unique = [...new Map(files.map((file) => [file.path, file.name])).entries()];
  const probes = new Map<string, MediaInfo>();
  let next = 0;
  const worker = async () => {
    for (let item = unique[next++]; item; item = unique[next++]) {
      const [file, name] = item;
      probes.set(file, await probeMedia(name, file, context.signal));
      const fraction = (PROBING_SHARE * probes.size) / (unique.length + 1);
      context.progress({ fraction, stage: "probing", message: `${probes.size}/${unique.length}` });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, unique.length) }, worker));
  return files.map(({ name, path: file }) => {
    const media = probes.get(file);
    if (!media?.video) throw new JobError("invalid_input", `${name} has no video stream`, false);
    if (media.video.durationS <= 0) throw new JobError("invalid_input", `${name} has no video frames`, false);
    return { name, path: file, media, video: media.video };
  });
}

async function probeBed(file: string, signal: AbortSignal): Promise<void> {
  const media = await probeMedia("audio", file, signal);
  if (!media.hasAudio) throw new JobError("invalid_input", "the audio input has no audio stream", false);
}

/** Stage shares by expected cost, in seconds of encoding: copying and decoding a second cost a fraction of that. */
function planStages(
  context: HandlerContext,
  clips: readonly Clip[],
  decision: Decision,
  overlays: readonly Overlay[],
): StagedProgress {
  const totalS = clips.reduce((sum, clip) => sum + clip.video.durationS, 0);
  const normalisedS = decision.normalise.reduce((sum, i) => sum + (clips[i]?.video.durationS ?? 0), 0);
  // Each overlay re-encodes its length plus up to a GOP at each end.
  const overlayS = overlays.reduce((sum, o) => sum + Math.max(0, Math.min(o.end_s, totalS) - o.start_s) + 1, 0);
  return new StagedProgress(
    context.progress,
    [
      { stage: "normalising", cost: normalisedS },
      { stage: "concatenating", cost: totalS * 0.01 },
      { stage: "overlays", cost: overlays.length > 0 ? overlayS + totalS * 0.02 : 0 },
      { stage: "mixing audio", cost: totalS * 0.03 },
      { stage: "verifying", cost: totalS * 0.1 },
    ],
    PROBING_SHARE,
  );
}

/**
 * Re-encodes the clips the decision names (each distinct file once) and
 * returns the concat entries: every clip's file and its video's length.
 */
async function normaliseClips(
  clips: readonly Clip[],
  decision: Decision,
  work: string,
  stages: StagedProgress,
  signal: AbortSignal,
): Promise<{ file: string; durationS: number }[]> {
  const done = new Map<string, { file: string; durationS: number }>();
  const chosen = decision.normalise.map((i) => clips[i]).filter((clip): clip is Clip => clip !== undefined);
  const distinct = [...new Map(chosen.map((clip) => [clip.path, clip])).values()];
  for (const [k, clip] of distinct.entries()) {
    const file = path.join(work, `normalised-${k}.mp4`);
    const onProgress = stages.step("normalising", k, distinct.length, `${k + 1}/${distinct.length} (${clip.name})`);
    await normaliseClip(clip, decision.target, file, { signal, onProgress });
    const video = (await probeMedia(`normalised ${clip.name}`, file, signal)).video;
    if (!video) throw new JobError("compose_failed", `normalising ${clip.name} produced no video`, true);
    done.set(clip.path, { file, durationS: video.durationS });
  }
  return clips.map((clip) => done.get(clip.path) ?? { file: clip.path, durationS: clip.video.durationS });
}
