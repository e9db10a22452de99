/**
 * Copy or normalise: which clips keep their video as it is, and the frame of
 * the output. Needs one tiny encode (a "reference") when clips must sit next
 * to video this bridge encodes (normalised clips, overlay pieces): a clip can
 * only be copied next to it if a decoder cannot tell them apart, i.e. its
 * parameter sets and time base equal what the clip format produces.
 */
import path from "node:path";
import { JobError } from "../errors";
import { CLIP_FORMAT } from "../media/clip-format";
import { referenceEncode } from "./normalise";
import { chooseTarget, copyProblem, type Target } from "./plan";
import type { VideoInfo } from "./probe";

export interface ClipVideo {
  name: string;
  path: string;
  video: VideoInfo;
}

export interface Decision {
  target: Target;
  /** Pixel format of the output (the clips' own when all are copied). */
  pixFmt: string;
  /** Indexes of the clips to re-encode; empty means method "copy". */
  normalise: number[];
  /** Why, for the job's warnings. */
  reasons: string[];
}

/**
 * Uniform clips (every one the same H.264 stream as the first) are copied.
 * With overlays they must also match the clip format, which the overlay
 * pieces are encoded in; if not, all are normalised. Mixed clips: the largest
 * sets the frame (plan.chooseTarget) and each clip is copied only if it
 * already is what normalising would make of it.
 */
export async function decide(
  clips: readonly ClipVideo[],
  options: { overlays: boolean; workDir: string; signal: AbortSignal },
): Promise<Decision> {
  const reference = async (clip: ClipVideo, target: Target): Promise<VideoInfo> => {
    const file = path.join(options.workDir, "reference.mp4");
    const encoded = await referenceEncode(clip, target, file, options.signal);
    if (!encoded) throw new JobError("compose_failed", "the reference encode has no video", true);
    // A one-frame file has no meaningful average frame rate: it is the target's by construction.
    return { ...encoded, frameRate: target.frameRate };
  };

  const first = clips[0];
  if (!first) throw new JobError("invalid_params", "no clips to compose", false);
  if (clips.every((clip) => copyProblem(clip.video, first.video) === null)) {
    const { width, height, frameRate, fps } = first.video;
    const target = { width, height, frameRate, fps };
    const problem = options.overlays ? copyProblem(first.video, await reference(first, target)) : null;
    if (!problem) return { target, pixFmt: first.video.pixFmt, normalise: [], reasons: [] };
    return {
      target,
      pixFmt: CLIP_FORMAT.pixFmt,
      normalise: clips.map((_, i) => i),
      reasons: [`all clips normalised: overlays are encoded in the clip format, and the clips differ (${problem})`],
    };
  }

  const { target, index } = chooseTarget(clips.map((clip) => clip.video));
  const ref = await reference(clips[index] ?? first, target);
  const decision: Decision = { target, pixFmt: CLIP_FORMAT.pixFmt, normalise: [], reasons: [] };
  for (const [i, clip] of clips.entries()) {
    const problem = copyProblem(clip.video, ref);
    if (problem === null) continue;
    decision.normalise.push(i);
    decision.reasons.push(`${clip.name} normalised: ${problem}`);
  }
  return decision;
}
