/**
 * UploadDigest: one per chunked upload. It hashes each part as it arrives and
 * keeps the whole file's SHA-256 running over the longest run of parts taken
 * in order from part 1, so completion reads back out of R2 only what that run
 * does not cover — nothing at all for a client that sends parts in order, one
 * or several at a time. A part whose predecessor is still streaming in waits
 * for it (its bytes wait in memory meanwhile, at most the part: the Worker's
 * tee keeps feeding R2); a part whose predecessor has not arrived is hashed
 * alone when its checksum is asked for, else skipped, and left for the
 * read-back.
 *
 * The running digest lives only in memory. It is given up, and completion
 * streams the whole object back out of R2 instead, when this object was
 * evicted mid-upload, a part in the run was cut short, or a part of the run
 * was sent again.
 */
import { DurableObject } from "cloudflare:workers";
import { toHex } from "../worker/auth/crypto";
import { fixedLength, sha256Of } from "../worker/core/media/digest";

/** Longest an early part waits for the part before it, which is already streaming in. */
const ORDER_WAIT_MS = 30_000;

export class UploadDigest extends DurableObject<Env> {
  private readonly whole = wholeDigest();
  /** The first part not yet in the running digest. */
  private next = 1;
  private usable = true;
  /** Parts inside absorb() now, and the wake-up of the part waiting on each. */
  private readonly inside = new Set<number>();
  private readonly waiters = new Map<number, () => void>();

  /**
   * Takes one part, whose bytes must number `size`: into the running digest
   * when it is the next in order, and hashed on its own when `checksum` asks
   * (returned as hex, else null).
   */
  async absorb(
    partNumber: number,
    size: number,
    body: ReadableStream<Uint8Array>,
    checksum: boolean,
  ): Promise<string | null> {
    // Fresh memory but part 1 was taken before: this object was evicted and lost the running digest.
    if (this.next === 1 && this.ctx.storage.kv.get<boolean>("started")) this.usable = false;
    this.inside.add(partNumber);
    try {
      if (partNumber > this.next && this.inside.has(partNumber - 1)) await this.after(partNumber - 1);
      // A part of the run sent again may carry other bytes than those already hashed.
      if (partNumber < this.next) this.usable = false;
      const inRun = this.usable && partNumber === this.next;
      if (!inRun && !checksum) {
        await body.cancel();
        return null;
      }
      // FixedLengthStream fails a body cut short or too long.
      const sized = fixedLength(body, size);
      if (!inRun) return await sha256Of(sized);
      const [forWhole, forPart] = checksum ? sized.tee() : [sized, null];
      const partSha = forPart ? sha256Of(forPart) : null;
      partSha?.catch(() => undefined);
      try {
        await forWhole.pipeTo(this.whole, { preventClose: true });
        const sha = partSha ? await partSha : null;
        if (partNumber === 1) this.ctx.storage.kv.put("started", true);
        this.next = partNumber + 1;
        return sha;
      } catch (error) {
        this.usable = false;
        throw error;
      }
    } finally {
      this.inside.delete(partNumber);
      this.waiters.get(partNumber)?.();
    }
  }

  /**
   * The whole file's SHA-256: the running digest, finished by streaming from
   * R2 whatever parts it does not cover. Null when the running digest cannot
   * be trusted; the caller then reads the whole object back.
   */
  async finish(key: string, partSize: number, sizeBytes: number): Promise<string | null> {
    if (!this.usable) return null;
    this.usable = false;
    const offset = (this.next - 1) * partSize;
    if (offset < sizeBytes) {
      const rest = await this.env.MEDIA.get(key, { range: { offset, length: sizeBytes - offset } });
      if (!rest) return null;
      await rest.body.pipeTo(this.whole);
    } else {
      await this.whole.getWriter().close();
    }
    return toHex(await this.whole.digest);
  }

  /** Resolves when part `partNumber` leaves absorb(), or after ORDER_WAIT_MS. */
  private after(partNumber: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ORDER_WAIT_MS);
      const waiters = this.waiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(partNumber);
        resolve();
      }
      this.waiters.set(partNumber, done);
    });
  }
}

/** A broken part aborts the running digest; that is recorded as `usable = false`, not left unhandled. */
function wholeDigest(): DigestStream {
  const digest = new crypto.DigestStream("SHA-256");
  digest.digest.catch(() => undefined);
  return digest;
}
