/**
 * ffmpeg steps every provider shares: fitting a picture to an exact size,
 * turning whatever a remote model returned into the job type's format (a PNG
 * of the requested size; a clip-format MP4 with exactly the requested frames),
 * checking that a downloaded file is media at all, and the preview JPEG every
 * generation uploads beside its result.
 */
import path from "node:path";
import { JobError } from "../errors";
import { probeFile } from "../handlers/ffprobe";
import type { OutputFile } from "../handlers/types";
import { clipAudioArgs, clipVideoArgs, MP4_ARGS } from "../media/clip-format";
import { runFfmpeg, verifyOutput } from "../media/encode";

/** Scale to cover width×height, then crop the overflow: exact size, no distortion, no borders. */
export function coverFilter(width: number, height: number): string {
  return `scale=${width}:${height}:force_original_aspect_ratio=increase:flags=bicubic,crop=${width}:${height},setsar=1`;
}

/** Length of `frames` frames at `fps`, in ms. */
export function clipDurationMs(frames: number, fps: number): number {
  return Math.round((frames * 1000) / fps);
}

/** The first frame of `source` as an RGB PNG of exactly width×height. */
export async function toPng(
  source: string,
  target: string,
  size: { width: number; height: number },
  signal: AbortSignal,
): Promise<void> {
  const filter = `trim=end_frame=1,${coverFilter(size.width, size.height)},format=rgb24`;
  await runFfmpeg(["-i", source, "-vf", filter, "-frames:v", "1", "-c:v", "png", "-f", "image2", target], { signal });
}

export interface ClipShape {
  width: number;
  height: number;
  fps: number;
  frames: number;
}

/**
 * Re-encodes a remote model's video into the clip format at the requested
 * size and rate with exactly `frames` frames: a short result holds its last
 * frame, a long one is cut. Its audio is kept when it has some; otherwise the
 * clip gets a silent track, as every clip must for stream-copy composition.
 */
export async function toClip(
  source: string,
  target: string,
  shape: ClipShape,
  options: { hasAudio: boolean; comment: string; signal: AbortSignal; onProgress?: (fraction: number) => void },
): Promise<void> {
  const durationS = shape.frames / shape.fps;
  const video =
    `[0:v]${coverFilter(shape.width, shape.height)},fps=${shape.fps},` +
    `tpad=stop_mode=clone:stop_duration=${durationS.toFixed(3)},trim=end_frame=${shape.frames}[v]`;
  const audio = options.hasAudio
    ? `;[0:a]aresample=48000,apad,atrim=end=${durationS.toFixed(6)}[a]`
    : `;anullsrc=r=48000:cl=stereo,atrim=end=${durationS.toFixed(6)}[a]`;
  await runFfmpeg(
    [
      ...["-i", source, "-filter_complex", video + audio, "-map", "[v]", "-map", "[a]"],
      ...clipVideoArgs(shape.fps),
      ...clipAudioArgs(),
      ...["-metadata", `comment=${options.comment}`],
      ...MP4_ARGS,
      target,
    ],
    { signal: options.signal, durationMs: durationS * 1000, onProgress: options.onProgress },
  );
}

/**
 * ffprobes a file a remote provider returned and insists on a picture in it.
 * Garbage from a provider is the provider's fault, not the job's, so it is
 * retryable (another attempt may get a good file), unlike unreadable input.
 */
export async function checkProviderOutput(
  file: string,
  provider: string,
  signal: AbortSignal,
): Promise<{ hasAudio: boolean }> {
  let streams: { codec_type?: string | undefined }[];
  try {
    ({
      probe: { streams },
    } = await probeFile(file, signal));
  } catch (error) {
    if (error instanceof JobError && error.code === "unreadable_media") {
      throw new JobError(
        "provider_bad_output",
        `${provider} returned a file that is not media: ${error.message}`,
        true,
      );
    }
    throw error;
  }
  if (!streams.some((s) => s.codec_type === "video")) {
    throw new JobError("provider_bad_output", `${provider} returned media with no picture in it`, true);
  }
  return { hasAudio: streams.some((s) => s.codec_type === "audio") };
}

/** A preview's longer side, as the original's preview.jpg. */
const PREVIEW_MAX_SIDE = 512;

/** The size of a picture's preview: the longer side PREVIEW_MAX_SIDE, never upscaled, aspect kept. */
function previewSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, PREVIEW_MAX_SIDE / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * The `preview` output of a generation: a JPEG of `source`'s first frame (the
 * image itself, or a clip's opening) at previewSize, verified with ffprobe.
 */
export async function makePreview(
  source: string,
  size: { width: number; height: number },
  scratchDir: string,
  signal: AbortSignal,
): Promise<OutputFile> {
  const target = path.join(scratchDir, "preview.jpg");
  const { width, height } = previewSize(size.width, size.height);
  const filter = `scale=${width}:${height}:flags=bicubic,setsar=1,format=yuvj420p`;
  await runFfmpeg(["-i", source, "-vf", filter, "-frames:v", "1", "-q:v", "3", "-f", "image2", target], { signal });
  await verifyOutput(target, { video: { codec: "mjpeg", width, height } }, signal);
  return { kind: "preview", path: target, contentType: "image/jpeg" };
}
