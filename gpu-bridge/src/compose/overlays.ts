/**
 * Timed text without re-encoding the whole video: the joined video is cut at
 * the keyframes that bound each overlay (stream copy, segment muxer), only the
 * pieces with text are decoded, drawn on and encoded again in the clip format
 * (same encoder arguments, so same parameter sets and GOP), and the pieces are
 * listed for the concat demuxer to join by copy.
 *
 * Pieces are MPEG-TS: each carries its own PTS/DTS with the B-frame delay, so
 * they join without the edit-list offsets MP4 pieces would bring to every
 * join (non-monotonic DTS, a first piece starting late).
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { JobError } from "../errors";
import { CLIP_FORMAT, clipVideoArgs } from "../media/clip-format";
import { runFfmpeg } from "../media/encode";
import { drawtext } from "./filters";
import { concatList } from "./join";
import type { OverlayPlan, Piece, Target } from "./plan";

export interface OverlayOptions {
  signal: AbortSignal;
  fontFile: string;
  /** Called before each re-encode (index among the re-encoded pieces) and as it advances. */
  onStep: (index: number, count: number) => (fraction: number) => void;
}

/** Writes the pieces and returns a concat list (ffconcat) that plays them in order. */
export async function applyOverlays(
  joined: string,
  plan: OverlayPlan,
  target: Target,
  workDir: string,
  options: OverlayOptions,
): Promise<string> {
  const { signal } = options;
  const sources = await cutPieces(joined, plan.pieces, workDir, signal);
  const drawn = plan.pieces.filter((piece) => piece.overlays.length > 0);
  const files: string[] = [];
  for (const [index, piece] of plan.pieces.entries()) {
    const source = sources[index] ?? joined;
    if (piece.overlays.length === 0) {
      files.push(source);
      continue;
    }
    const output = path.join(workDir, `overlay-${String(index).padStart(5, "0")}.ts`);
    const onProgress = options.onStep(drawn.indexOf(piece), drawn.length);
    await runFfmpeg(
      [
        ...["-i", source, "-map", "0:v:0", "-an", "-sn", "-dn"],
        ...["-vf", overlayFilter(piece, target, options.fontFile)],
        // Frames keep the timestamps the filters gave them: no duplicates, no drops.
        ...["-fps_mode", "passthrough"],
        ...clipVideoArgs(target.fps),
        ...["-f", "mpegts", output],
      ],
      { signal, durationMs: (piece.endS - piece.startS) * 1000, onProgress },
    );
    files.push(output);
  }
  const list = path.join(workDir, "pieces.ffconcat");
  await writeFile(list, concatList(files.map((file) => ({ file }))));
  return list;
}

/** Timestamps from 0 in each piece, so overlay times are offsets from the piece's start. */
function overlayFilter(piece: Piece, target: Target, fontFile: string): string {
  return [
    "setpts=PTS-STARTPTS",
    `fps=${target.frameRate}`,
    `format=${CLIP_FORMAT.pixFmt}`,
    ...piece.overlays.map((overlay) => drawtext(overlay, fontFile, piece.startS)),
  ].join(",");
}

/**
 * Splits `joined` at the pieces' first frames (keyframes, by decode position)
 * into MPEG-TS files, one per piece. A single piece needs no cut: it is the
 * joined file itself.
 */
async function cutPieces(joined: string, pieces: readonly Piece[], workDir: string, signal: AbortSignal) {
  if (pieces.length <= 1) return [];
  const dir = path.join(workDir, "pieces");
  await mkdir(dir, { recursive: true });
  const frames = pieces.slice(1).map((piece) => piece.startFrame);
  await runFfmpeg(
    [
      ...["-i", joined, "-map", "0:v:0", "-c", "copy"],
      ...["-f", "segment", "-segment_format", "mpegts", "-segment_frames", frames.join(",")],
      // The muxer expands % in the whole name: a literal one in the directory is written %%.
      ...["-reset_timestamps", "1", path.join(dir.replaceAll("%", "%%"), "%05d.ts")],
    ],
    { signal },
  );
  const files = (await readdir(dir)).filter((name) => name.endsWith(".ts")).sort();
  if (files.length !== pieces.length) {
    // The plan's cut points are keyframes ffprobe listed; a mismatch is our bug, not the input's.
    throw new JobError(
      "compose_failed",
      `cutting for overlays made ${files.length} pieces, not ${pieces.length}`,
      true,
    );
  }
  return files.map((name) => path.join(dir, name));
}
