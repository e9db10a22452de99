/**
 * `npx tsx bench/compose.ts`: video.compose@1 against the original pipeline's
 * method, on the same inputs, printed as JSON.
 *
 * Inputs: ten uniform 6 s 1280x720 30 fps clips in the clip format (moving
 * test pattern, a tone each), a 2 s title overlay and a 60 s audio bed.
 *  (a) original: every clip re-encoded to 1920x1080 30 fps (libx264 medium,
 *      CRF 23, AAC 128k), concatenated by copy, then the whole video encoded
 *      once more (medium, CRF 23) with the overlay and the bed mixed in.
 *  (b) ours: the compose handler's run() (copy, re-encode only the GOPs under
 *      the overlay, rebuild the audio, verify with a full decode).
 * Both outputs are checked afterwards with `ffmpeg -v error -i out -f null -`.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { filterValue } from "../gpu-bridge/src/compose/filters";
import { findFont } from "../gpu-bridge/src/compose/font";
import { concatList } from "../gpu-bridge/src/compose/join";
import { runTool } from "../gpu-bridge/src/ffmpeg";
import { composeHandler } from "../gpu-bridge/src/handlers/compose";
import type { InputFile } from "../gpu-bridge/src/handlers/types";
import { clipAudioArgs, clipVideoArgs, MP4_ARGS } from "../gpu-bridge/src/media/clip-format";
import { runFfmpeg } from "../gpu-bridge/src/media/encode";
import { newJob } from "../gpu-bridge/test/helpers/fake-api";

const CLIPS = 10;
const CLIP_S = 6;
const TITLE = { text: "Media Edge: compose benchmark", start_s: 0, end_s: 2, position: "center", font_size: 64 };
const BED = { volume: 0.4, fade_in_s: 1, fade_out_s: 2 };

export interface ComposeBench {
  clips: number;
  clip: string;
  original_s: number;
  /** Median of COMPOSE_ROUNDS runs of the compose handler. */
  compose_s: number;
  compose_runs_s: number[];
  speedup: number;
  original_decodes_clean: boolean;
  compose_decodes_clean: boolean;
  compose_facts: Record<string, unknown>;
  compose_metrics: Record<string, unknown>;
  cpus: number;
}

const COMPOSE_ROUNDS = 3;

export async function benchCompose(workDir: string): Promise<ComposeBench> {
  const signal = new AbortController().signal;
  const inputs = path.join(workDir, "inputs");
  await mkdir(inputs, { recursive: true });
  const clips = await makeClips(inputs, signal);
  const bed = path.join(inputs, "bed.m4a");
  await runFfmpeg(
    [
      ...["-f", "lavfi", "-i", `anoisesrc=color=pink:amplitude=0.2:duration=${CLIPS * CLIP_S}`],
      ...clipAudioArgs(),
      ...["-f", "mp4", bed],
    ],
    { signal },
  );

  const originalOut = path.join(workDir, "original.mp4");
  const originalS = await seconds(() => originalPipeline(clips, bed, path.join(workDir, "original"), originalOut));

  const names = clips.map((_, i) => `clip_${i}`);
  const files = new Map<string, InputFile>(
    [...clips.map((file, i) => [names[i] as string, file] as const), ["audio", bed] as const].map(([name, file]) => [
      name,
      { input: { name, url: "", content_type: "video/mp4", size_bytes: 0 }, path: file },
    ]),
  );
  const params = { clips: names, overlays: [TITLE], audio: BED };
  const job = { ...newJob({}), job_type: "compose_video" as const, params };
  // Our run is short enough to repeat: its median is quoted (the original method runs once).
  const composeRuns: number[] = [];
  let result: Awaited<ReturnType<typeof composeHandler.run>> | undefined;
  for (let round = 0; round < COMPOSE_ROUNDS; round++) {
    const scratch = path.join(workDir, `compose-${round}`);
    await mkdir(scratch, { recursive: true });
    composeRuns.push(
      await seconds(async () => {
        result = await composeHandler.run({
          job,
          inputs: files,
          scratchDir: scratch,
          signal,
          progress: () => {},
        });
      }),
    );
  }
  const composeS = [...composeRuns].sort((a, b) => a - b)[Math.floor(composeRuns.length / 2)] ?? Number.NaN;
  const composeOut = result?.outputs?.[0]?.path ?? "";

  return {
    clips: CLIPS,
    clip: `${CLIP_S} s 1280x720 30 fps, clip format`,
    original_s: round(originalS),
    compose_s: round(composeS),
    compose_runs_s: composeRuns.map(round),
    speedup: round(originalS / composeS),
    original_decodes_clean: await decodesClean(originalOut),
    compose_decodes_clean: composeOut !== "" && (await decodesClean(composeOut)),
    compose_facts: result?.facts ?? {},
    compose_metrics: result?.metrics ?? {},
    cpus: cpus().length,
  };
}

async function makeClips(dir: string, signal: AbortSignal): Promise<string[]> {
  const clips: string[] = [];
  for (let i = 0; i < CLIPS; i++) {
    const file = path.join(dir, `clip_${i}.mp4`);
    await runFfmpeg(
      [
        ...["-f", "lavfi", "-i", `testsrc2=size=1280x720:rate=30:duration=${CLIP_S}`],
        ...["-f", "lavfi", "-i", `sine=frequency=${220 + 55 * i}:duration=${CLIP_S}:sample_rate=48000`],
        ...["-vf", `hue=h=${36 * i}`, ...clipVideoArgs(30), ...clipAudioArgs(), ...MP4_ARGS, file],
      ],
      { signal },
    );
    clips.push(file);
  }
  return clips;
}

/** What the original backend did: normalise everything to 1080p, join, then encode it all again with text and bed. */
async function originalPipeline(clips: readonly string[], bed: string, dir: string, output: string): Promise<void> {
  const signal = new AbortController().signal;
  await mkdir(dir, { recursive: true });
  const normalised: string[] = [];
  for (const [i, clip] of clips.entries()) {
    const file = path.join(dir, `n${i}.mp4`);
    await runFfmpeg(
      [
        ...["-i", clip, "-vf", "scale=1920:1080,fps=30", "-c:v", "libx264", "-preset", "medium", "-crf", "23"],
        ...["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-f", "mp4", file],
      ],
      { signal },
    );
    normalised.push(file);
  }
  const list = path.join(dir, "list.ffconcat");
  await writeFile(list, concatList(normalised.map((file) => ({ file }))));
  const joined = path.join(dir, "joined.mp4");
  await runFfmpeg(["-f", "concat", "-safe", "0", "-i", list, "-c", "copy", "-f", "mp4", joined], { signal });
  const font = (await findFont()) ?? "";
  const total = CLIPS * CLIP_S;
  const text = `drawtext=fontfile=${filterValue(font)}:expansion=none:text=${filterValue(TITLE.text)}:fontsize=${TITLE.font_size}:fontcolor=white:x=(w-text_w)/2:y=(h-text_h)/2:enable=${filterValue(`between(t,${TITLE.start_s},${TITLE.end_s})`)}`;
  const bedChain = `volume=${BED.volume},afade=t=in:d=${BED.fade_in_s},afade=t=out:st=${total - BED.fade_out_s}:d=${BED.fade_out_s}`;
  await runFfmpeg(
    [
      ...["-i", joined, "-i", bed],
      "-filter_complex",
      `[0:v]${text}[v];[1:a]${bedChain}[b];[0:a][b]amix=inputs=2:duration=first:normalize=0[a]`,
      ...["-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "medium", "-crf", "23", "-pix_fmt", "yuv420p"],
      ...["-c:a", "aac", "-b:a", "128k", ...MP4_ARGS, output],
    ],
    { signal },
  );
}

async function decodesClean(file: string): Promise<boolean> {
  const result = await runTool("ffmpeg", ["-hide_banner", "-nostdin", "-v", "error", "-i", file, "-f", "null", "-"]);
  return result.code === 0 && result.stderr.trim() === "";
}

async function seconds(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-compose-"));
  try {
    console.log(JSON.stringify(await benchCompose(dir), null, 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
