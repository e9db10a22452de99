/**
 * The local provider: offline, no GPU, no model. It renders the procedural
 * scene of procedural.ts with ffmpeg (geq draws the field, lutrgb colours it)
 * and says in the file itself and in the facts that no model made it.
 *
 * - txt2img: the scene at t = 0, exactly width×height, as PNG (+ a tEXt note).
 * - img2img: the given image, fitted to the size, blended toward the scene by
 *   `strength` (0 = the image, 1 = the scene).
 * - t2v: the scene animated (every wave's phase moves with time).
 * - i2v: the given image as the first frame, then the camera zooms toward the
 *   scene's focus point while the animated scene fades in to 30 %. Below an
 *   `imageStrength` of 1 the image lies over the scene at that weight, as a
 *   keyframe does, so the first frame already shows the scene through it.
 * - last_image: the last 40 % of the clip crossfades onto it, ending exactly on it
 *   (at `lastImageStrength` 1; lower, the last frame shows it at that weight).
 * - keyframes: each shows exactly at its frame (weighted by its strength),
 *   fading in and out over an eighth of the clip on either side.
 * Videos are in the clip format with a silent AAC track and an MP4 comment.
 *
 * `sampler`, `clipSkip` and `lightingVariant` steer a diffusion model; there
 * is none here, so they are accepted and left unused (the scene does not
 * change with them).
 */
import path from "node:path";
import { clipAudioArgs, clipVideoArgs, MP4_ARGS } from "../media/clip-format";
import { runFfmpeg } from "../media/encode";
import { clipDurationMs, coverFilter } from "./media";
import { addPngText } from "./png-text";
import { PROCEDURAL_VERSION, type Scene, sceneFor } from "./procedural";
import type { Generated, ImageRequest, Provider, ProviderContext, VideoRequest } from "./types";

export const LOCAL_MODEL = PROCEDURAL_VERSION;
export const LOCAL_NOTE =
  "Procedural pattern rendered by the Media Edge GPU bridge's local provider from a hash of the prompt and seed; " +
  "it was not made by a generative model.";
const LOCAL_WARNING = "made by the local provider: a procedural pattern from the prompt's hash, not a generative model";

/** How much of the animated scene is mixed over an i2v clip by its last frame. */
const I2V_SCENE_MIX = 0.3;
/** Where the crossfade onto last_image starts, as a fraction of the clip. */
const LAST_IMAGE_FADE_START = 0.6;
/**
 * Video fields are drawn at most this wide and scaled up: the waves are smooth
 * and geq, evaluated per pixel and frame, is the slow part. Images (one frame)
 * are drawn at full size.
 */
const MAX_VIDEO_FIELD_WIDTH = 480;
/** Upscaled i2v stills larger than this get no sub-pixel headroom beyond it (memory). */
const MAX_ZOOM_SOURCE_WIDTH = 4096;

export function createLocalProvider(): Provider {
  return { name: "local", keyframes: true, generateImage, generateVideo };
}

async function generateImage(request: ImageRequest, context: ProviderContext): Promise<Generated> {
  const scene = sceneFor(request);
  const target = path.join(context.scratchDir, "local-image.png");
  const pattern = patternSource(scene, { width: request.width, height: request.height }, 1, 1);
  const args = request.image
    ? [
        ...["-i", request.image, "-f", "lavfi", "-i", pattern],
        "-filter_complex",
        `[0:v]trim=end_frame=1,${coverFilter(request.width, request.height)},format=gbrp[image];` +
          `[1:v]format=gbrp[scene];` +
          `[image][scene]blend=all_expr='A+(B-A)*${request.strength.toFixed(4)}':shortest=1,format=rgb24[v]`,
        ...["-map", "[v]"],
      ]
    : ["-f", "lavfi", "-i", pattern];
  context.progress(
    0,
    "rendering",
    request.image ? "img2img: blending the image with the pattern" : "drawing the pattern",
  );
  await runFfmpeg([...args, "-frames:v", "1", "-c:v", "png", "-f", "image2", target], { signal: context.signal });
  context.progress(0.9, "rendering", "annotating");
  await addPngText(target, "Comment", LOCAL_NOTE);
  context.progress(1, "rendering", "done");
  return { path: target, provider: "local", model: LOCAL_MODEL, isModel: false, warnings: [LOCAL_WARNING] };
}

async function generateVideo(request: VideoRequest, context: ProviderContext): Promise<Generated> {
  const scene = sceneFor(request);
  const { width, height, fps, frames } = request;
  const target = path.join(context.scratchDir, "local-video.mp4");
  const durationS = frames / fps;
  const last = Math.max(1, frames - 1);

  // Inputs: the animated scene first (one frame more than needed, so it never runs short), then the images.
  // Mixing goes through overlay with a fading alpha: per-pixel blend expressions are far slower at HD sizes.
  const field = { width, height, fieldMax: MAX_VIDEO_FIELD_WIDTH };
  const inputs = ["-f", "lavfi", "-i", patternSource(scene, field, fps, (frames + 1) / fps)];
  const graph: string[] = [];
  let current = "0:v";
  if (request.image) {
    inputs.push("-i", request.image);
    const factor = Math.max(1, Math.min(4, Math.floor(MAX_ZOOM_SOURCE_WIDTH / width)));
    // zoompan crops at whole pixels of its input: upscaling first makes the zoom smooth instead of jerky.
    graph.push(
      `[1:v]trim=end_frame=1,${coverFilter(width * factor, height * factor)},` +
        `zoompan=z='1+${(scene.zoom - 1).toFixed(4)}*on/${last}':` +
        `x='(iw-iw/zoom)*${scene.focus.x.toFixed(4)}':y='(ih-ih/zoom)*${scene.focus.y.toFixed(4)}':` +
        `d=${frames}:s=${width}x${height}:fps=${fps}[moving]`,
    );
    let moving = "moving";
    let veil = "0:v";
    // At full strength the image is the base as it is; the extra overlay is added only below it, so
    // strength 1 renders exactly what it always did.
    if (request.imageStrength < 1) {
      graph.push(
        "[0:v]split[under][over]",
        `[moving]format=gbrap,colorchannelmixer=aa=${request.imageStrength.toFixed(4)}[translucent]`,
        "[under][translucent]overlay=format=gbrp:shortest=1[blended]",
      );
      moving = "blended";
      veil = "over";
    }
    graph.push(
      `[${veil}]format=gbrap,colorchannelmixer=aa=${I2V_SCENE_MIX},fade=t=in:s=0:n=${last}:alpha=1[veil]`,
      `[${moving}][veil]overlay=format=gbrp:shortest=1[mixed]`,
    );
    current = "mixed";
  }
  let nextInput = request.image ? 2 : 1;
  if (request.lastImage) {
    const index = nextInput++;
    inputs.push("-i", request.lastImage);
    const fadeStart = Math.floor(last * LAST_IMAGE_FADE_START);
    // Weighted like a keyframe; at full strength no mixer, so strength 1 renders exactly what it always did.
    const weight = request.lastImageStrength < 1 ? `colorchannelmixer=aa=${request.lastImageStrength.toFixed(4)},` : "";
    // zoompan with no zoom turns the still into exactly `frames` frames at the clip's rate.
    graph.push(
      `[${index}:v]trim=end_frame=1,${coverFilter(width, height)},zoompan=z=1:d=${frames}:s=${width}x${height}:fps=${fps},` +
        `format=gbrap,${weight}fade=t=in:s=${fadeStart}:n=${last - fadeStart}:alpha=1[ending]`,
      `[${current}][ending]overlay=format=gbrp:shortest=1[faded]`,
    );
    current = "faded";
  }
  const ramp = Math.max(1, Math.round(frames / 8));
  for (const [n, keyframe] of (request.keyframes ?? []).entries()) {
    const index = nextInput++;
    inputs.push("-i", keyframe.path);
    const fadeInStart = Math.max(0, keyframe.index - ramp);
    const fades = [
      // A fade-in also hides every frame before it; a keyframe at 0 needs none.
      ...(keyframe.index > 0 ? [`fade=t=in:s=${fadeInStart}:n=${keyframe.index - fadeInStart}:alpha=1`] : []),
      `fade=t=out:s=${keyframe.index + 1}:n=${ramp}:alpha=1`,
    ];
    graph.push(
      `[${index}:v]trim=end_frame=1,${coverFilter(width, height)},zoompan=z=1:d=${frames}:s=${width}x${height}:fps=${fps},` +
        `format=gbrap,colorchannelmixer=aa=${keyframe.strength.toFixed(4)},${fades.join(",")}[key${n}]`,
      `[${current}][key${n}]overlay=format=gbrp:shortest=1[pinned${n}]`,
    );
    current = `pinned${n}`;
  }
  graph.push(`[${current}]trim=end_frame=${frames},format=yuv420p[v]`);
  graph.push(`anullsrc=r=48000:cl=stereo,atrim=end=${durationS.toFixed(6)}[a]`);

  context.progress(0, "rendering", `${frames} frames at ${fps} fps`);
  await runFfmpeg(
    [
      ...inputs,
      ...["-filter_complex", graph.join(";"), "-map", "[v]", "-map", "[a]"],
      ...clipVideoArgs(fps),
      ...clipAudioArgs(),
      ...["-metadata", `comment=${LOCAL_NOTE}`],
      ...MP4_ARGS,
      target,
    ],
    {
      signal: context.signal,
      durationMs: clipDurationMs(frames, fps),
      onProgress: (fraction) => context.progress(fraction, "rendering", `${Math.round(fraction * 100)} % encoded`),
    },
  );
  return { path: target, provider: "local", model: LOCAL_MODEL, isModel: false, warnings: [LOCAL_WARNING] };
}

/**
 * A lavfi source drawing the scene at width×height, `rate` frames a second
 * for `durationS`; its field is drawn at most `fieldMax` wide, then scaled.
 */
function patternSource(
  scene: Scene,
  size: { width: number; height: number; fieldMax?: number },
  rate: number,
  durationS: number,
): string {
  const { width, height, fieldMax = width } = size;
  const fieldWidth = Math.min(width, fieldMax);
  const fieldHeight = Math.max(1, Math.round((height * fieldWidth) / width));
  const { r, g, b } = scene.palette;
  return (
    `nullsrc=s=${fieldWidth}x${fieldHeight}:r=${rate}:d=${durationS.toFixed(6)},format=gray,` +
    `geq=lum='${scene.field}',format=rgb24,lutrgb=r='${r}':g='${g}':b='${b}'` +
    (fieldWidth < width ? `,scale=${width}:${height}:flags=bicubic` : "") +
    ",setsar=1"
  );
}
