/**
 * Adds a tEXt chunk to a PNG. ffmpeg's PNG encoder ignores `-metadata`, and
 * the local provider must say inside the file itself that no model made it;
 * the chunk goes right after IHDR and carries no timestamp, so the same input
 * still gives the same bytes.
 */
import { readFile, writeFile } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { JobError } from "../errors";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Signature (8) + IHDR's length, type, 13 data bytes and CRC. */
const AFTER_IHDR = 8 + 4 + 4 + 13 + 4;

/** `keyword` and `text` must be Latin-1 (the PNG spec's rule for tEXt); keyword 1–79 chars. */
export async function addPngText(file: string, keyword: string, text: string): Promise<void> {
  const png = await readFile(file);
  if (!png.subarray(0, 8).equals(SIGNATURE) || png.toString("latin1", 12, 16) !== "IHDR") {
    throw new JobError("output_invalid", "expected a PNG to annotate", true);
  }
  await writeFile(
    file,
    Buffer.concat([png.subarray(0, AFTER_IHDR), textChunk(keyword, text), png.subarray(AFTER_IHDR)]),
  );
}

function textChunk(keyword: string, text: string): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword) || !/^[\x20-\x7e\n]*$/.test(text)) {
    throw new Error("PNG text must be printable ASCII");
  }
  const typeAndData = Buffer.concat([Buffer.from("tEXt", "latin1"), Buffer.from(`${keyword}\0${text}`, "latin1")]);
  const chunk = Buffer.alloc(4 + typeAndData.length + 4);
  chunk.writeUInt32BE(typeAndData.length - 4, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typeAndData), 4 + typeAndData.length);
  return chunk;
}
