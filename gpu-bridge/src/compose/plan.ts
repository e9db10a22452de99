/**
 * The pure decisions of composition, kept apart from ffmpeg so their edge
 * cases are testable without media: which clips can be stream-copied, what
 * frame the output uses, how a clip fits into it, and which keyframe-bounded
 * pieces of the joined video an overlay forces to re-encode.
 */
import type { z } from "zod";
import type { overlaySchema } from "../../../worker/contracts/job-types";
import { evenSize } from "../media/clip-format";
import type { Keyframe, VideoInfo } from "./probe";

export type Overlay = z.output<typeof overlaySchema>;

/** The output's frame: every clip is copied at it or normalised to it. */
export interface Target {
  width: number;
  height: number;
  frameRate: string;
  fps: number;
}

/**
 * Why a clip cannot be stream-copied next to `reference`, or null when it
 * can. Copying needs the same H.264 stream in every respect a decoder or the
 * concat demuxer cares about: identical parameter sets (extradata) settle
 * profile, level and entropy coding; the rest is what they do not encode.
 * Rotated or anamorphic clips are always normalised: the MPEG-TS pieces that
 * overlays go through cannot carry a display matrix, and text drawn on
 * non-square pixels would be stretched.
 */
export function copyProblem(clip: VideoInfo, reference: VideoInfo): string | null {
  if (clip.codec !== "h264") return `codec ${clip.codec}, not h264`;
  if (clip.index !== 0) return `video is stream ${clip.index}, not the first`;
  if (clip.rotation !== 0) return `rotated ${clip.rotation}°`;
  if (clip.displayWidth !== clip.width) return "non-square pixels";
  if (Math.abs(clip.startS) > 0.001) return `video starts at ${clip.startS.toFixed(3)} s`;
  const pairs: [string, string | number, string | number][] = [
    ["size", `${clip.width}x${clip.height}`, `${reference.width}x${reference.height}`],
    ["frame rate", clip.frameRate, reference.frameRate],
    ["pixel format", clip.pixFmt, reference.pixFmt],
    ["profile", clip.profile, reference.profile],
    ["time base", clip.timeBase, reference.timeBase],
    ["parameter sets", clip.extradata, reference.extradata],
  ];
  const different = pairs.find(([, mine, theirs]) => mine !== theirs);
  return different ? `${different[0]} ${different[1]} ≠ ${different[2]}` : null;
}

/**
 * The output frame when clips differ: the largest clip's (by displayed area,
 * the first on a tie) size and frame rate. The largest is usually the main
 * footage, so it keeps its resolution and the smaller clips are letterboxed
 * up to it rather than everything shrinking to a small intro card; taking the
 * frame rate from the same clip means at least that clip needs no resampling.
 */
export function chooseTarget(videos: readonly VideoInfo[]): { target: Target; index: number } {
  let index = -1;
  let bestArea = 0;
  for (const [i, video] of videos.entries()) {
    const area = video.displayWidth * video.displayHeight;
    if (index < 0 || area > bestArea) [index, bestArea] = [i, area];
  }
  const best = videos[index];
  if (!best) throw new Error("chooseTarget needs at least one clip");
  const target = {
    width: evenSize(best.displayWidth),
    height: evenSize(best.displayHeight),
    frameRate: best.frameRate,
    fps: best.fps,
  };
  return { target, index };
}

/** Where a clip goes in the target frame: scaled to fit (aspect kept, even sizes), centred, black bars. */
export function fitInto(
  display: { width: number; height: number },
  target: { width: number; height: number },
): { width: number; height: number; x: number; y: number } {
  const scale = Math.min(target.width / display.width, target.height / display.height);
  const width = Math.min(target.width, evenSize(Math.round(display.width * scale)));
  const height = Math.min(target.height, evenSize(Math.round(display.height * scale)));
  // Even offsets keep the chroma planes of yuv420p aligned with the luma.
  return { width, height, x: evenFloor((target.width - width) / 2), y: evenFloor((target.height - height) / 2) };
}

function evenFloor(value: number): number {
  return Math.floor(value / 2) * 2;
}

/** A stretch of the joined video between two keyframes; with overlays it is re-encoded, else copied. */
export interface Piece {
  startFrame: number;
  endFrame: number;
  startS: number;
  endS: number;
  overlays: Overlay[];
}

export interface OverlayPlan {
  pieces: Piece[];
  /** Seconds of video the overlays force to re-encode. */
  reencodedS: number;
  warnings: string[];
}

/** Times closer than this are the same instant (ffprobe prints microseconds). */
const EPSILON_S = 1e-6;

/**
 * Cuts the joined video at the keyframes that bound each overlay: from the
 * last keyframe at or before its start to the first keyframe at or after its
 * end (frames at or after end_s show no text). Overlapping or touching spans
 * merge, so each is re-encoded once with all its overlays.
 */
export function planOverlays(
  overlays: readonly Overlay[],
  video: { keyframes: readonly Keyframe[]; frames: number; durationS: number },
): OverlayPlan {
  const { keyframes, frames, durationS } = video;
  const warnings: string[] = [];
  const spans: Piece[] = [];
  for (const overlay of overlays) {
    if (overlay.start_s >= durationS - EPSILON_S) {
      warnings.push(`overlay "${preview(overlay.text)}" starts at ${overlay.start_s} s, after the video ends; skipped`);
      continue;
    }
    if (overlay.end_s > durationS + EPSILON_S) {
      warnings.push(`overlay "${preview(overlay.text)}" ends after the video; cut at ${durationS.toFixed(3)} s`);
    }
    const end = Math.min(overlay.end_s, durationS);
    const first = keyframes.findLast((k) => k.timeS <= overlay.start_s + EPSILON_S) ?? keyframes[0];
    const after = keyframes.find((k) => k.timeS >= end - EPSILON_S && k.frame > (first?.frame ?? 0));
    spans.push({
      startFrame: first?.frame ?? 0,
      startS: first?.timeS ?? 0,
      endFrame: after?.frame ?? frames,
      endS: after?.timeS ?? durationS,
      overlays: [{ ...overlay, end_s: end }],
    });
  }
  const merged: Piece[] = [];
  for (const span of spans.sort((a, b) => a.startFrame - b.startFrame)) {
    const last = merged.at(-1);
    if (last && span.startFrame <= last.endFrame) {
      if (span.endFrame > last.endFrame) Object.assign(last, { endFrame: span.endFrame, endS: span.endS });
      last.overlays.push(...span.overlays);
    } else merged.push(span);
  }
  const pieces: Piece[] = [];
  let at = { frame: 0, timeS: 0 };
  for (const span of merged) {
    if (span.startFrame > at.frame) pieces.push(copied(at, { frame: span.startFrame, timeS: span.startS }));
    pieces.push(span);
    at = { frame: span.endFrame, timeS: span.endS };
  }
  if (at.frame < frames) pieces.push(copied(at, { frame: frames, timeS: durationS }));
  const reencodedS = merged.reduce((sum, span) => sum + (span.endS - span.startS), 0);
  return { pieces, reencodedS: Math.round(reencodedS * 1000) / 1000, warnings };
}

function copied(from: Keyframe, to: Keyframe): Piece {
  return { startFrame: from.frame, endFrame: to.frame, startS: from.timeS, endS: to.timeS, overlays: [] };
}

function preview(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Where to start parallel decode chunks (besides 0): `count - 1` keyframes
 * near even divisions of the output, none at a join (within a frame's worth
 * of time), so every join is decoded inside one chunk. Fewer when there are
 * not enough such keyframes.
 */
export function decodeChunks(
  keyframes: readonly Keyframe[],
  joins: readonly number[],
  durationS: number,
  count: number,
): number[] {
  const usable = keyframes.filter(
    (k) => k.timeS > 0 && k.timeS < durationS && !joins.some((join) => Math.abs(join - k.timeS) < 0.01),
  );
  const starts = new Set<number>();
  for (let j = 1; j < count; j++) {
    const want = (j * durationS) / count;
    let best: number | undefined;
    for (const { timeS } of usable) {
      if (!starts.has(timeS) && (best === undefined || Math.abs(timeS - want) < Math.abs(best - want))) best = timeS;
    }
    if (best !== undefined) starts.add(best);
  }
  return [...starts].sort((a, b) => a - b);
}
