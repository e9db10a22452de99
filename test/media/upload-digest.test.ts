/**
 * The running whole-file digest of a chunked upload: correct when parts come
 * in order (nothing read back), in parallel (a part waits for the one
 * streaming in before it), or out of order (the rest read back from R2), and
 * given up (null, so completion reads the whole object back) whenever it
 * could be wrong — a re-sent part with other bytes, a part of the wrong
 * length, an eviction mid-upload.
 */
import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { bytesOf, sha256Hex } from "../helpers/uploads";

const PART = 64 * 1024;
const stub = () => env.UPLOAD_DIGEST.getByName(crypto.randomUUID());
/** Stores `bytes` in R2 and finishes the digest over it. */
async function finish(digest: ReturnType<typeof stub>, bytes: Uint8Array): Promise<string | null> {
  const key = `test/${crypto.randomUUID()}`;
  await env.MEDIA.put(key, bytes);
  return digest.finish(key, PART, bytes.byteLength);
}
/** Finishes the digest with nothing in R2 to read back: only a run that took every part answers. */
function finishFromRun(digest: ReturnType<typeof stub>, size: number): Promise<string | null> {
  return digest.finish(`test/absent/${crypto.randomUUID()}`, PART, size);
}
const streamOf = (bytes: Uint8Array) => new Blob([bytes]).stream();
const slice = (bytes: Uint8Array, n: number) => bytes.slice((n - 1) * PART, n * PART);

describe("UploadDigest", () => {
  it("hashes the whole file, reading nothing back, and each part when asked, when parts arrive in order", async () => {
    const bytes = bytesOf(3 * PART - 100, 1);
    const digest = stub();
    for (const n of [1, 2, 3]) {
      const part = slice(bytes, n);
      expect(await digest.absorb(n, part.byteLength, streamOf(part), true)).toBe(await sha256Hex(part));
    }
    expect(await finishFromRun(digest, bytes.byteLength)).toBe(await sha256Hex(bytes));
  });

  it("makes a part wait for the one before it, still streaming in, so nothing is read back", async () => {
    const bytes = bytesOf(3 * PART, 5);
    const first = slice(bytes, 1);
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(first.slice(0, 1000));
        await released;
        controller.enqueue(first.slice(1000));
        controller.close();
      },
    });
    const digest = stub();
    const absorbed = [
      digest.absorb(1, PART, held, false),
      ...[2, 3].map((n) => digest.absorb(n, PART, streamOf(slice(bytes, n)), false)),
    ];
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await Promise.all(absorbed);
    expect(await finishFromRun(digest, bytes.byteLength)).toBe(await sha256Hex(bytes));
  });

  it("hashes parts sent all at once, last first: what the run missed is read back", async () => {
    const bytes = bytesOf(4 * PART, 2);
    const digest = stub();
    await Promise.all([4, 2, 3, 1].map((n) => digest.absorb(n, PART, streamOf(slice(bytes, n)), false)));
    expect(await finish(digest, bytes)).toBe(await sha256Hex(bytes));
  });

  it("gives up when a part already taken is sent again (its bytes may differ)", async () => {
    const bytes = bytesOf(2 * PART, 3);
    const digest = stub();
    await digest.absorb(1, PART, streamOf(bytesOf(PART, 99)), false);
    await digest.absorb(1, PART, streamOf(slice(bytes, 1)), false);
    await digest.absorb(2, PART, streamOf(slice(bytes, 2)), false);
    expect(await finish(digest, bytes)).toBeNull();
  });

  it("hashes a part on its own only when asked", async () => {
    const part = bytesOf(PART, 7);
    const digest = stub();
    expect(await digest.absorb(1, PART, streamOf(part), false)).toBeNull();
    expect(await digest.absorb(3, PART, streamOf(part), true)).toBe(await sha256Hex(part));
  });

  it("gives up on a part of the wrong length, and after an eviction mid-upload", async () => {
    const bytes = bytesOf(2 * PART, 4);
    const short = stub();
    const refused = await short.absorb(1, PART, streamOf(slice(bytes, 1).slice(10)), false).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
    expect(await finish(short, bytes)).toBeNull();

    const evicted = stub();
    await evicted.absorb(1, PART, streamOf(slice(bytes, 1)), false);
    await evictDurableObject(evicted);
    await evicted.absorb(2, PART, streamOf(slice(bytes, 2)), false);
    expect(await finish(evicted, bytes)).toBeNull();
  });

  it("finishes from R2 what it did not take in order: a sequential client sending part 2 first", async () => {
    const bytes = bytesOf(3 * PART - 7, 6);
    const digest = stub();
    for (const n of [2, 3, 1]) await digest.absorb(n, slice(bytes, n).byteLength, streamOf(slice(bytes, n)), false);
    expect(await finish(digest, bytes)).toBe(await sha256Hex(bytes));
  });
});
