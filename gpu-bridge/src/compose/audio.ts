/**
 * The output's audio, rebuilt in one pass: each clip's sound (silence for a
 * clip without any) padded or cut to exactly its video's length, laid end to
 * end, and the optional bed mixed under it with volume and fades.
 *
 * Audio is always re-encoded, even when the video is copied: AAC cannot be
 * cut at a clip boundary, and copying it across MP4 joins keeps each clip's
 * encoder priming frame (≈21 ms of pre-roll per join: non-monotonic DTS, and
 * sound drifting ahead of the picture). Encoding audio costs ~1/60 of real
 * time, and it runs while the video is joined and drawn on (AudioBuild).
 */
import { CLIP_FORMAT, clipAudioArgs } from "../media/clip-format";
import { runFfmpeg } from "../media/encode";

export interface ClipSound {
  path: string;
  hasAudio: boolean;
  /** Length of the clip's video in the output: its sound is made exactly this long. */
  durationS: number;
}

export interface Bed {
  path: string;
  volume: number;
  fadeInS: number;
  fadeOutS: number;
}

const FORMAT = `aformat=sample_fmts=fltp:sample_rates=${CLIP_FORMAT.sampleRate}:channel_layouts=stereo`;

/** ffmpeg inputs and filtergraph for the audio; pure, so its shape is testable. */
function audioGraph(clips: readonly ClipSound[], bed: Bed | null): { inputs: string[]; filter: string } {
  const inputs: string[] = [];
  const chains: string[] = [];
  const input = (file: string) => {
    inputs.push("-i", file);
    return inputs.length / 2 - 1;
  };
  for (const [i, clip] of clips.entries()) {
    const length = clip.durationS.toFixed(6);
    // async + first_pts=0 turn the clip's timestamps into samples: a late start or a gap becomes silence.
    const source = clip.hasAudio
      ? `[${input(clip.path)}:a:0]aresample=${CLIP_FORMAT.sampleRate}:async=1:first_pts=0`
      : `anullsrc=r=${CLIP_FORMAT.sampleRate}:cl=stereo`;
    chains.push(`${source},${FORMAT},apad=whole_dur=${length},atrim=duration=${length}[c${i}]`);
  }
  const joined = bed ? "clips" : "out";
  chains.push(`${clips.map((_, i) => `[c${i}]`).join("")}concat=n=${clips.length}:v=0:a=1[${joined}]`);
  if (bed) {
    const total = clips.reduce((sum, clip) => sum + clip.durationS, 0);
    const steps = [
      `aresample=${CLIP_FORMAT.sampleRate}:async=1:first_pts=0`,
      FORMAT,
      `atrim=duration=${total.toFixed(6)}`,
      `volume=${bed.volume}`,
    ];
    if (bed.fadeInS > 0) steps.push(`afade=t=in:st=0:d=${bed.fadeInS}`);
    if (bed.fadeOutS > 0)
      steps.push(`afade=t=out:st=${Math.max(0, total - bed.fadeOutS).toFixed(6)}:d=${bed.fadeOutS}`);
    chains.push(`[${input(bed.path)}:a:0]${steps.join(",")}[bed]`);
    // normalize=0: amix would otherwise halve the clips' own sound to make room for the bed.
    chains.push("[clips][bed]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[out]");
  }
  return { inputs, filter: chains.join(";") };
}

export async function buildAudio(
  clips: readonly ClipSound[],
  bed: Bed | null,
  output: string,
  options: { signal: AbortSignal; onProgress: (fraction: number) => void },
): Promise<void> {
  const { inputs, filter } = audioGraph(clips, bed);
  const durationMs = clips.reduce((sum, clip) => sum + clip.durationS, 0) * 1000;
  await runFfmpeg([...inputs, "-filter_complex", filter, "-map", "[out]", ...clipAudioArgs(), "-f", "mp4", output], {
    signal: options.signal,
    durationMs,
    onProgress: options.onProgress,
  });
}

/**
 * The audio, built in the background: it needs only the clips' lengths, so
 * it runs while the video is joined and drawn on, on the core that copying
 * and probing leave idle. Its progress is held until the handler reaches
 * the audio stage, so stages are reported one at a time.
 */
export class AudioBuild {
  private fraction = 0;
  private listener: ((fraction: number) => void) | undefined;
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;

  constructor(clips: readonly ClipSound[], bed: Bed | null, output: string, signal: AbortSignal) {
    this.done = buildAudio(clips, bed, output, {
      signal: AbortSignal.any([signal, this.controller.signal]),
      onProgress: (fraction) => {
        this.fraction = fraction;
        this.listener?.(fraction);
      },
    });
    // Observed by finish() or stop(); until then a failure must not count as unhandled.
    this.done.catch(() => {});
  }

  /** Waits for the audio, reporting its progress from now on. */
  async finish(onProgress: (fraction: number) => void): Promise<void> {
    this.listener = onProgress;
    onProgress(this.fraction);
    await this.done;
  }

  /** Stops the build (the video failed) and waits until its ffmpeg has exited. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.done.catch(() => {});
  }
}
