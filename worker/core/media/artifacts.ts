/**
 * Stored media. Bytes live in R2 under a key namespaced by owner
 * (`u/<principal>/<kind>/<artifact>`); the D1 row says who owns them and what
 * they are. The SHA-256 is computed while streaming, never by buffering.
 */
import type { Database } from "../db/client";
import { artifacts } from "../db/schema";
import { ApiError } from "../errors/api-error";

export type Artifact = typeof artifacts.$inferSelect;

export async function storeArtifact(
  env: Env,
  db: Database,
  input: {
    ownerPrincipalId: number;
    kind: "inputs";
    body: ReadableStream<Uint8Array>;
    sizeBytes: number;
    contentType: string;
  },
): Promise<Artifact> {
  const id = crypto.randomUUID();
  const r2Key = `u/${input.ownerPrincipalId}/${input.kind}/${id}`;
  const [toR2, toDigest] = input.body.tee();
  const digest = new crypto.DigestStream("SHA-256");
  let digestBytes: ArrayBuffer;
  try {
    [digestBytes] = await Promise.all([
      toDigest.pipeTo(digest).then(() => digest.digest),
      // FixedLengthStream refuses a body longer or shorter than declared.
      env.MEDIA.put(r2Key, toR2.pipeThrough(new FixedLengthStream(input.sizeBytes)), {
        httpMetadata: { contentType: input.contentType },
      }),
    ]);
  } catch {
    await env.MEDIA.delete(r2Key).catch(() => undefined);
    throw new ApiError("bad_request", `The body did not match its Content-Length of ${input.sizeBytes} bytes`);
  }
  const sha256 = [...new Uint8Array(digestBytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const [row] = await db
    .insert(artifacts)
    .values({
      id,
      ownerPrincipalId: input.ownerPrincipalId,
      r2Key,
      contentType: input.contentType,
      sizeBytes: input.sizeBytes,
      sha256,
    })
    .returning();
  if (!row) throw new Error("artifact insert returned no row");
  return row;
}
