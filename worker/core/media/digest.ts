/**
 * SHA-256 of a stream as it passes through, without buffering it: each chunk
 * is fed to a DigestStream and handed on; backpressure from the destination
 * (R2) reaches the source, so memory stays at one chunk whatever the size.
 */

export interface Hashing {
  /** Pipe the body through this on its way to storage. */
  stream: TransformStream<Uint8Array, Uint8Array>;
  /** Hex SHA-256 of everything that passed, once the stream has closed. */
  hex: Promise<string>;
}

export function hashing(): Hashing {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      await writer.write(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      await writer.close();
    },
    async cancel(reason) {
      await writer.abort(reason);
    },
  });
  const hex = digest.digest.then(toHex);
  // When the body breaks, nobody awaits the digest: keep its rejection from surfacing as unhandled.
  hex.catch(() => undefined);
  return { stream, hex };
}

/** SHA-256 of a whole stream, streamed. */
export async function sha256Of(body: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  digest.digest.catch(() => undefined);
  await body.pipeTo(digest);
  return toHex(await digest.digest);
}

/** Range reads kept in flight while earlier ones are hashed: reading overlaps hashing. */
const READ_AHEAD = 4;

/**
 * SHA-256 of an R2 object, streamed: the object is read in `chunkBytes`
 * ranges, up to READ_AHEAD requested ahead, each piped into one digest in
 * order. Unread bodies hold back through backpressure, so memory stays small.
 */
export async function digestObject(
  env: Env,
  key: string,
  chunkBytes: number,
): Promise<{ sha256: string; size: number }> {
  const head = await env.MEDIA.head(key);
  if (!head) throw new Error(`object ${key} vanished before it could be verified`);
  const digest = new crypto.DigestStream("SHA-256");
  const ranges = Array.from({ length: Math.ceil(head.size / chunkBytes) }, (_, i) => ({
    offset: i * chunkBytes,
    length: Math.min(chunkBytes, head.size - i * chunkBytes),
  }));
  const reads: Promise<R2ObjectBody | null>[] = [];
  const request = (i: number) => {
    const range = ranges[i];
    if (range) reads[i] = env.MEDIA.get(key, { range });
  };
  for (let i = 0; i < READ_AHEAD; i++) request(i);
  for (let i = 0; i < ranges.length; i++) {
    request(i + READ_AHEAD);
    const part = await reads[i];
    if (!part) throw new Error(`object ${key} vanished while it was verified`);
    await part.body.pipeTo(digest, { preventClose: i < ranges.length - 1 });
  }
  if (ranges.length === 0) await digest.getWriter().close();
  return { sha256: toHex(await digest.digest), size: head.size };
}

/**
 * `body` checked to be exactly `size` bytes: the result errors if it is cut
 * short or runs long. (pipeThrough would leave the failed pipe's promise
 * unhandled; its error reaches the reader anyway.)
 */
export function fixedLength(body: ReadableStream<Uint8Array>, size: number): ReadableStream<Uint8Array> {
  const fixed = new FixedLengthStream(size);
  body.pipeTo(fixed.writable).catch(() => undefined);
  return fixed.readable;
}

export function toHex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
