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

/** SHA-256 of a whole stream (e.g. an R2 object read back), streamed. */
export async function sha256Of(body: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  await body.pipeTo(digest);
  return toHex(await digest.digest);
}

export function toHex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
