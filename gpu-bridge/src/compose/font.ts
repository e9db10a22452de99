/**
 * The font drawtext uses. drawtext needs a file; fontconfig's choice for
 * "sans-serif" is asked first, then /usr/share/fonts is searched (DejaVu Sans
 * preferred: Debian's ffmpeg pulls in fonts-dejavu-core through fontconfig).
 * No font means no overlays, so the handler's detect() fails without one.
 */
import { access, readdir } from "node:fs/promises";
import path from "node:path";
import { runTool } from "../ffmpeg";

const FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts"];
const PREFERRED = "DejaVuSans.ttf";
const FONT_FILE = /\.(ttf|otf)$/i;

let cached: Promise<string | null> | undefined;

/** An absolute path to a TrueType/OpenType font, or null; looked up once per process. */
export function findFont(signal?: AbortSignal): Promise<string | null> {
  cached ??= lookUp(signal).then((font) => {
    if (font === null) cached = undefined; // a font installed later is found by the next detect()
    return font;
  });
  return cached;
}

async function lookUp(signal?: AbortSignal): Promise<string | null> {
  const matched = await fromFontconfig(signal);
  if (matched) return matched;
  for (const dir of FONT_DIRS) {
    const fonts = await listFonts(dir);
    const font = fonts.find((file) => path.basename(file) === PREFERRED) ?? fonts.sort()[0];
    if (font) return font;
  }
  return null;
}

async function fromFontconfig(signal?: AbortSignal): Promise<string | null> {
  try {
    const result = await runTool("fc-match", ["--format=%{file}", "sans-serif"], { signal, timeoutMs: 10_000 });
    const file = result.stdout.trim();
    if (result.code !== 0 || !FONT_FILE.test(file)) return null;
    await access(file);
    return file;
  } catch {
    return null; // no fontconfig, or it named a file that is not there: search the directories instead
  }
}

async function listFonts(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile() && FONT_FILE.test(e.name)).map((e) => path.join(e.parentPath, e.name));
  } catch {
    return [];
  }
}
