/**
 * The media half of the maintenance sweep: deletes the bytes of artifacts past
 * their expiry (the rows stay, so reads answer 410, not 404) and aborts
 * uploads left open past theirs, freeing their parts. Reads never depend on
 * this having run: they compare expires_at themselves.
 */
import { and, asc, eq, inArray, isNull, lte } from "drizzle-orm";
import { database } from "../../db/client";
import { artifacts, uploads } from "../../db/schema";
import { discardArtifacts } from "./artifacts";

const SWEEP_LIMIT = 200;

export interface MediaSweepReport {
  deleted: string[];
  abortedUploads: string[];
}

export async function sweepMedia(env: Env, now = Date.now()): Promise<MediaSweepReport> {
  const db = database(env.DB);
  const [expired, stale] = await Promise.all([
    db
      .select({ id: artifacts.id, r2Key: artifacts.r2Key })
      .from(artifacts)
      .where(and(isNull(artifacts.deletedAt), lte(artifacts.expiresAt, new Date(now))))
      .orderBy(asc(artifacts.expiresAt))
      .limit(SWEEP_LIMIT),
    db
      .select({ id: uploads.id, r2Key: uploads.r2Key, r2UploadId: uploads.r2UploadId })
      .from(uploads)
      .where(and(eq(uploads.status, "open"), lte(uploads.expiresAt, new Date(now))))
      .limit(SWEEP_LIMIT),
  ]);
  await discardArtifacts(env, db, expired, now);
  for (const upload of stale) {
    await env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.r2UploadId)
      .abort()
      .catch(() => undefined);
  }
  if (stale.length > 0) {
    await db
      .update(uploads)
      .set({ status: "aborted" })
      .where(
        inArray(
          uploads.id,
          stale.map((row) => row.id),
        ),
      );
  }
  return { deleted: expired.map((row) => row.id), abortedUploads: stale.map((row) => row.id) };
}
