/**
 * The one clip format every video this bridge renders uses (generated clips,
 * normalised clips, re-encoded overlay segments), so that composition can
 * concatenate by stream copy. Change it here and nowhere else.
 */

export const CLIP_FORMAT = {
  videoCodec: "h264",
  pixFmt: "yuv420p",
  audioCodec: "aac",
  sampleRate: 48_000,
  channels: 2,
  /** Longest distance between keyframes, in seconds: bounds how much an overlay forces to re-encode. */
  keyframeIntervalS: 1,
  crf: 23,
} as const;

/** H.264 in yuv420p needs even sizes: round down to the nearest even, at least 2. */
export function evenSize(value: number): number {
  return Math.max(2, Math.floor(value / 2) * 2);
}

/**
 * libx264 arguments for the clip format at `fps`. Fixed GOP without scene-cut
 * keyframes and no open GOPs, so every keyframe starts a segment that can be
 * cut and concatenated cleanly; repeated headers keep SPS/PPS in-band so
 * segments encoded separately still decode after concatenation.
 */
export function clipVideoArgs(fps: number, preset = "veryfast"): string[] {
  const gop = Math.max(1, Math.round(fps * CLIP_FORMAT.keyframeIntervalS));
  return [
    ...["-c:v", "libx264", "-preset", preset, "-crf", String(CLIP_FORMAT.crf)],
    ...["-pix_fmt", CLIP_FORMAT.pixFmt, "-profile:v", "high"],
    ...["-g", String(gop), "-keyint_min", String(gop), "-sc_threshold", "0"],
    ...["-x264-params", "open-gop=0:repeat-headers=1"],
  ];
}

/** AAC stereo 48 kHz, the audio layout of every clip (silent when the clip has no sound). */
export function clipAudioArgs(bitrateKbps = 128): string[] {
  return [
    ...["-c:a", "aac", "-b:a", `${bitrateKbps}k`],
    ...["-ar", String(CLIP_FORMAT.sampleRate), "-ac", String(CLIP_FORMAT.channels)],
  ];
}

/** MP4 with the index first, so a browser can start playing before the download ends. */
export const MP4_ARGS = ["-movflags", "+faststart", "-f", "mp4"] as const;
