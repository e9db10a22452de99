/**
 * The local speech provider: espeak-ng, a formant synthesiser (not a model).
 * The text goes through a file (-f), never the command line, so nothing in
 * it can be read as an option; the voice is checked against the voices
 * espeak-ng lists before it is used.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { JobError } from "../errors";
import { runHandlerTool } from "../ffmpeg";

const TIMEOUT_MS = 10 * 60_000;

let voices: Promise<Set<string>> | undefined;

/**
 * Every name `-v` accepts: each voice's language codes, name and file, and
 * each of those with `+variant` (e.g. "en-us+f3"). Listed once per process.
 */
export function espeakVoices(signal?: AbortSignal): Promise<Set<string>> {
  voices ??= listVoices(signal).catch((error: unknown) => {
    voices = undefined; // a failure (a missing espeak-ng) is not remembered
    throw error;
  });
  return voices;
}

async function listVoices(signal?: AbortSignal): Promise<Set<string>> {
  const [languages, variants] = await Promise.all([
    espeak(["--voices"], signal).then(parseVoiceTable),
    espeak(["--voices=variant"], signal).then(parseVoiceTable),
  ]);
  // Variants are files under "!v/"; -v takes them by the file's base name.
  const variantNames = variants.filter((name) => name.startsWith("!v/")).map((name) => name.slice(3));
  const names = new Set(languages.filter((name) => name !== "variant"));
  for (const base of [...names]) for (const variant of variantNames) names.add(`${base}+${variant}`);
  return names;
}

/**
 * `espeak-ng --voices` prints a header, then per voice: priority, language,
 * age/gender, name, file, and the further languages it answers to as
 * "(en 3)(en-gb 4)". Names have no spaces (espeak-ng writes underscores).
 */
export function parseVoiceTable(table: string): string[] {
  return table
    .split("\n")
    .slice(1)
    .flatMap((line) => {
      const [, language, , name, file, ...rest] = line.trim().split(/\s+/);
      const others = [...rest.join(" ").matchAll(/\(([^\s()]+)\s+\d+\)/g)].map((match) => match[1]);
      return [language, name, file, ...others];
    })
    .filter((name): name is string => name !== undefined && name !== "");
}

/** Synthesises `text` into a WAV file (16-bit PCM, 22.05 kHz mono) at `output`. */
export async function espeakSynthesize(
  request: { text: string; voice: string; wordsPerMinute: number },
  output: string,
  signal: AbortSignal,
): Promise<void> {
  if (!(await espeakVoices(signal)).has(request.voice)) {
    throw new JobError("invalid_params", `espeak-ng has no voice "${request.voice}" (see espeak-ng --voices)`, false);
  }
  const textFile = path.join(path.dirname(output), "speech.txt");
  await writeFile(textFile, request.text, "utf8");
  const args = ["-b", "1", "-v", request.voice, "-s", String(request.wordsPerMinute), "-w", output, "-f", textFile];
  await espeak(args, signal, TIMEOUT_MS);
}

async function espeak(args: readonly string[], signal?: AbortSignal, timeoutMs = 30_000): Promise<string> {
  const result = await runHandlerTool("espeak-ng", args, { signal, timeoutMs });
  if (result.code !== 0) {
    const detail = result.stderr.trim().split("\n").slice(-2).join(" | ") || `exit code ${result.code}`;
    throw new JobError("espeak_failed", `espeak-ng failed: ${detail}`, true);
  }
  return result.stdout;
}
