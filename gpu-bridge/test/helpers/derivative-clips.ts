/**
 * Media for the derivative handlers' tests (thumbnails, proxies, waveforms),
 * made by ffmpeg in a temp dir. Small and short, so the whole set is made in
 * a second or two.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function ffmpeg(args: string[]): Promise<void> {
  await run("ffmpeg", ["-hide_banner", "-nostdin", "-v", "error", "-y", ...args]);
}

export interface VideoClipOptions {
  width: number;
  height: number;
  seconds: number;
  fps?: number;
  audio?: boolean;
  /** Source GOP in frames; long by default, so a proxy's keyframes cannot come from the source's. */
  gop?: number;
}

/** testsrc2 (moving, so encoders do real work) in H.264, plus a 440 Hz tone in AAC when `audio`. */
export async function makeTestVideo(dir: string, name: string, options: VideoClipOptions): Promise<string> {
  const { width, height, seconds, fps = 25, audio = false, gop = 250 } = options;
  const file = path.join(dir, name);
  await ffmpeg([
    ...["-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`],
    ...(audio ? ["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`] : []),
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", String(gop)],
    ...(audio ? ["-c:a", "aac", "-ac", "2"] : []),
    file,
  ]);
  return file;
}

/** 2 s of 44.1 kHz mono PCM: silence for the first second, a 0.8-amplitude 440 Hz tone for the second. */
export async function makeSilenceThenTone(dir: string): Promise<string> {
  const file = path.join(dir, "silence-then-tone.wav");
  await ffmpeg(["-f", "lavfi", "-i", "aevalsrc='if(lt(t,1),0,0.8*sin(2*PI*440*t))':s=44100:d=2", file]);
  return file;
}

/** 1 s of 5.1 sound (six tones) in a WAV. */
export async function makeSurround(dir: string): Promise<string> {
  const file = path.join(dir, "surround.wav");
  const tones = [220, 330, 440, 550, 660, 770].map((hz) => `0.3*sin(2*PI*${hz}*t)`).join("|");
  await ffmpeg(["-f", "lavfi", "-i", `aevalsrc='${tones}':s=48000:d=1:c=5.1`, file]);
  return file;
}

/** 10 minutes of 8 kHz mono PCM (9.6 MB): decoding it takes long enough to abort midway. */
export async function makeLongAudio(dir: string): Promise<string> {
  const file = path.join(dir, "long.wav");
  await ffmpeg(["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=600", file]);
  return file;
}

/** `source` stored as it is but marked to be shown turned a quarter (as phones store portrait video). */
export async function makeQuarterTurned(dir: string, source: string): Promise<string> {
  const file = path.join(dir, "quarter-turned.mp4");
  // Stream copy: ffmpeg 5.1 keeps the rotate tag (as a display matrix) only when not re-encoding.
  await ffmpeg(["-i", source, "-c", "copy", "-metadata:s:v:0", "rotate=90", file]);
  return file;
}

/** 1 s of MP3 carrying a 300x200 cover picture (an attached_pic stream, not video). */
export async function makeMp3WithCover(dir: string): Promise<string> {
  const cover = path.join(dir, "cover.png");
  const file = path.join(dir, "with-cover.mp3");
  await ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=300x200:rate=1:duration=1", "-frames:v", "1", cover]);
  await ffmpeg([
    ...["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-i", cover, "-map", "0", "-map", "1"],
    ...["-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic", file],
  ]);
  return file;
}
