/** Test media, made by ffmpeg in a temp dir (no binaries in the repo). */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export function hasFfmpeg(): Promise<boolean> {
  return run("ffmpeg", ["-version"]).then(
    () => true,
    () => false,
  );
}

/** 2 s, 320x240, 25 fps, H.264 + AAC, in MP4. */
export async function makeVideoClip(dir: string): Promise<string> {
  const file = path.join(dir, "clip.mp4");
  await run("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:duration=2"],
    ...["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", file],
  ]);
  return file;
}

/** 1.5 s of MP3, no video. */
export async function makeAudioClip(dir: string): Promise<string> {
  const file = path.join(dir, "tone.mp3");
  await run("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:duration=1.5", "-c:a", "libmp3lame", file],
  ]);
  return file;
}

/** Text that no demuxer accepts. */
export async function makeGarbage(dir: string): Promise<string> {
  const file = path.join(dir, "garbage.bin");
  await writeFile(file, "this is not a media file\n".repeat(50));
  return file;
}
