/** SHA-256 of streamed bytes, never buffering them, and the length checks that go with it. */
import { toHex } from "../../auth/crypto";

export interface Hashing {
  /** Pipe the body through this on its way to storage. */
  stream: TransformStream<Uint8Array, Uint8Array>;
  /** Hex SHA-256 of everything that passed, once the stream has closed. */
  hex: Promise<string>;
}

/**
 * SHA-256 of a stream as it passes through: each chunk is fed to a
 * DigestStream and handed on. Unlike a tee, backpressure from the destination
 * (R2) reaches the source, so memory stays at one chunk whatever the size.
 */
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

/** SHA-256 and size of an R2 object, streamed out of R2 in one read. */
export async function digestObject(env: Env, key: string): Promise<{ sha256: string; size: number }> {
  const object = await env.MEDIA.get(key);
  if (!object) throw new Error(`object ${key} vanished before it could be verified`);
  return { sha256: await sha256Of(object.body), size: object.size };
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
