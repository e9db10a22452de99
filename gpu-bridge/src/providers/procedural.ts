/**
 * The local provider's "generation": a hash of prompt and seed seeds a PRNG
 * that picks a few interfering waves (plane waves, rings, swirls, cells) and a
 * cosine colour palette, written as ffmpeg expressions (geq for the field,
 * lutrgb for the colours). Same prompt and seed, same expressions, same pixels;
 * change either and the pattern and colours change. Pure, so it is testable
 * without ffmpeg.
 *
 * What the other params do here (there is no model to steer), each a little:
 * - steps: fine detail. One high-frequency wave is mixed in at 0.25 × min(1, steps/100) of the pattern.
 * - guidance: contrast. The palette swings over 0.6 + guidance/17.5 of its full range (capped at 1).
 * - negative_prompt: nudges the colours, turning the palette's phase by up to 1/16 of a turn.
 * The waves, the detail wave, the palette and the camera each draw from their own random stream, so
 * changing one of these params leaves the other choices alone.
 */
import { createHash } from "node:crypto";

export interface SceneInput {
  prompt: string;
  seed: number;
  negativePrompt: string;
  steps: number;
  guidance: number;
}

export interface Scene {
  /** geq `lum` expression over X, Y, W, H and T (seconds): the pattern, 0..255. */
  field: string;
  /** lutrgb expressions over `val` (the field) for each channel. */
  palette: { r: string; g: string; b: string };
  /** i2v: the point the camera drifts toward, as fractions of the picture. */
  focus: { x: number; y: number };
  /** i2v: how far the camera zooms in over the clip (1 = not at all). */
  zoom: number;
}

/** Bumped whenever the output for a given input changes, so old and new renders are never confused. */
export const PROCEDURAL_VERSION = "local-procedural-v1";

const TERMS = 3;
const MAX_DETAIL = 0.25;

export function sceneFor(input: SceneInput): Scene {
  const stream = (name: string, text = `${input.seed}\0${input.prompt}`) =>
    prng(digest(`${PROCEDURAL_VERSION}\0${name}\0${text}`));
  const shape = stream("shape");
  const parts: string[] = [];
  let weights = 0;
  for (let i = 0; i < TERMS; i++) {
    const weight = between(shape, 0.5, 1);
    weights += weight;
    parts.push(`${num(weight)}*${waveTerm(shape, 1)}`);
  }
  const detail = MAX_DETAIL * Math.min(1, input.steps / 100) * weights;
  parts.push(`${num(detail)}*${waveTerm(stream("detail"), 3)}`);
  const field = `127.5+127*(${parts.join("+")})/${num(weights + detail)}`;

  const colours = stream("palette");
  const shift = input.negativePrompt ? stream("negative", input.negativePrompt)() / 16 : 0;
  const swing = 0.5 * Math.min(1, 0.6 + input.guidance / 17.5);
  const cycles = between(colours, 0.6, 1.6);
  const phase = colours() + shift;
  const spread = between(colours, 0.15, 0.45);
  const channel = (offset: number) =>
    `255*(0.5+${num(swing)}*cos(2*PI*(${num(cycles)}*val/255+${num(phase + offset)})))`;

  const camera = stream("camera");
  return {
    field,
    palette: { r: channel(0), g: channel(spread), b: channel(2 * spread) },
    focus: { x: camera(), y: camera() },
    zoom: between(camera, 1.15, 1.45),
  };
}

/**
 * One wave, -1..1, over x = X/W and y = Y/W (both scaled by the width, so
 * rings stay round); `fineness` multiplies its spatial frequencies.
 */
function waveTerm(random: () => number, fineness: number): string {
  const x = "X/W";
  const y = "Y/W";
  const speed = num(between(random, 1.5, 3.5) * (random() < 0.5 ? -1 : 1));
  const phase = num(random() * 2 * Math.PI);
  const cx = num(between(random, 0.15, 0.85));
  const cy = num(between(random, 0.15, 0.85));
  const radius = `hypot(${x}-${cx},${y}-${cy})`;
  switch (Math.floor(random() * 4)) {
    case 0: {
      const fx = num(between(random, -6, 6) * fineness);
      const fy = num(between(random, -6, 6) * fineness);
      return `sin(2*PI*(${fx}*${x}+${fy}*${y})+${phase}+${speed}*T)`;
    }
    case 1:
      return `sin(2*PI*${num(between(random, 2, 10) * fineness)}*${radius}+${phase}+${speed}*T)`;
    case 2: {
      const arms = Math.floor(between(random, 2, 8));
      const rings = num(between(random, 1, 5) * fineness);
      return `sin(${arms}*atan2(${y}-${cy},${x}-${cx})+2*PI*${rings}*${radius}+${phase}+${speed}*T)`;
    }
    default: {
      const fx = num(between(random, 1, 8) * fineness);
      const fy = num(between(random, 1, 8) * fineness);
      return `sin(2*PI*${fx}*${x}+${phase}+${speed}*T)*sin(2*PI*${fy}*${y}+${phase})`;
    }
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** sfc32 seeded from the first 16 bytes of a digest: small, fast and the same on every platform. */
function prng(seedBytes: Buffer): () => number {
  let a = seedBytes.readUInt32LE(0);
  let b = seedBytes.readUInt32LE(4);
  let c = seedBytes.readUInt32LE(8);
  let d = seedBytes.readUInt32LE(12);
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

function between(random: () => number, low: number, high: number): number {
  return low + random() * (high - low);
}

/** A fixed-precision literal, parenthesised when negative so "a-b" never becomes "a--b". */
function num(value: number): string {
  const text = value.toFixed(4);
  return value < 0 ? `(${text})` : text;
}
