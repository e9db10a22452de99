/**
 * Chunked, resumable uploads into R2 multipart: the one mechanism users use
 * for inputs and jobs use for outputs (contract 003 §6's init / part /
 * complete). The declared size fixes the layout at init — every part but the
 * last is exactly UPLOAD_PART_BYTES — so each part's length is known before
 * its bytes arrive and a short or long body is refused. Re-sending a part
 * replaces it. A part is hashed on its own as it streams when it carries
 * X-Content-SHA256, and checked against it; the whole file's SHA-256 runs in
 * the upload's UploadDigest object as parts arrive (durable-objects/
 * upload-digest.ts), is finished at completion, and checked against the
 * declared one.
 */
import { and, eq } from "drizzle-orm";
import { configFrom } from "../../config";
import { PART_SHA256_HEADER } from "../../contracts/uploads";
import type { Database } from "../../db/client";
import { artifacts, uploadParts, uploads } from "../../db/schema";
import { ApiError } from "../../errors/api-error";
import { type Artifact, artifactKey, expiryFor, recordArtifact } from "./artifacts";
import { digestObject, fixedLength } from "./digest";

export type Upload = typeof uploads.$inferSelect;
export type UploadPart = typeof uploadParts.$inferSelect;

export interface InitUpload {
  ownerPrincipalId: number;
  surface: string;
  kind: string;
  contentType: string;
  sizeBytes: number;
  sha256?: string | undefined;
  /** Job outputs: the job and its task (the key is namespaced by task). */
  job?: { jobId: string; taskId: string } | undefined;
}

export async function initUpload(env: Env, db: Database, input: InitUpload): Promise<Upload> {
  const config = configFrom(env);
  if (input.sizeBytes > config.UPLOAD_MAX_BYTES) {
    throw new ApiError("payload_too_large", `Uploads are limited to ${config.UPLOAD_MAX_BYTES} bytes`, {
      details: { max_bytes: config.UPLOAD_MAX_BYTES, size_bytes: input.sizeBytes },
    });
  }
  const artifactId = crypto.randomUUID();
  const r2Key = artifactKey(input.ownerPrincipalId, artifactId, input.job?.taskId);
  const multipart = await env.MEDIA.createMultipartUpload(r2Key, {
    httpMetadata: { contentType: input.contentType },
  });
  const partSize = config.UPLOAD_PART_BYTES;
  const [row] = await db
    .insert(uploads)
    .values({
      id: crypto.randomUUID(),
      ownerPrincipalId: input.ownerPrincipalId,
      jobId: input.job?.jobId ?? null,
      kind: input.kind,
      surface: input.surface,
      contentType: input.contentType,
      sizeBytes: input.sizeBytes,
      partSize,
      partCount: Math.max(1, Math.ceil(input.sizeBytes / partSize)),
      sha256: input.sha256 ?? null,
      r2Key,
      r2UploadId: multipart.uploadId,
      artifactId,
      expiresAt: new Date(Date.now() + config.UPLOAD_TTL_S * 1000),
    })
    .returning();
  if (!row) throw new Error("upload insert returned no row");
  return row;
}

/** The upload `owner` may act on; anyone else's is a 404, like a missing one. */
export async function findUpload(
  db: Database,
  uploadId: string,
  owner: { principalId: number } | { jobId: string },
): Promise<Upload> {
  const [row] = await db.select().from(uploads).where(eq(uploads.id, uploadId)).limit(1);
  const mine = row && ("jobId" in owner ? row.jobId === owner.jobId : row.ownerPrincipalId === owner.principalId);
  if (!row || !mine) throw new ApiError("not_found", "No such upload");
  return row;
}

export function expectedPartSize(upload: Upload, partNumber: number): number {
  return partNumber < upload.partCount ? upload.partSize : upload.sizeBytes - upload.partSize * (upload.partCount - 1);
}

/**
 * Streams one part, the request's raw body, into R2; it counts only once its
 * length and, when the request carries X-Content-SHA256, its checksum were
 * right. A refused part is missing afterwards, whatever copy of it was
 * recorded before: R2 (and the running digest) may have taken the refused
 * bytes under its number, so only sending it again makes the upload whole.
 */
export async function putPart(
  env: Env,
  db: Database,
  upload: Upload,
  partNumber: number,
  request: Request,
): Promise<UploadPart> {
  assertOpen(upload);
  if (partNumber > upload.partCount) {
    throw new ApiError(
      "validation_failed",
      `This upload has ${upload.partCount} part(s); there is no part ${partNumber}`,
    );
  }
  const size = expectedPartSize(upload, partNumber);
  if (!request.body) throw new ApiError("bad_request", `Send part ${partNumber}'s ${size} bytes as the body`);
  const claimed = request.headers.get(PART_SHA256_HEADER)?.toLowerCase();
  const forget = () =>
    db.delete(uploadParts).where(and(eq(uploadParts.uploadId, upload.id), eq(uploadParts.partNumber, partNumber)));
  // One copy of the bytes goes to R2, the other to the upload's digest object, which keeps the
  // whole file's digest running (so completion need not read it back).
  const [toR2, toDigest] = request.body.tee();
  let uploaded: R2UploadedPart;
  let sha256: string | null;
  try {
    const multipart = env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.r2UploadId);
    [uploaded, sha256] = await Promise.all([
      multipart.uploadPart(partNumber, fixedLength(toR2, size)),
      // The part is hashed on its own only when the client sent a checksum to check it against.
      digestOf(env, upload).absorb(partNumber, size, toDigest, claimed !== undefined),
    ]);
  } catch {
    // A dropped connection or a wrong length: the client simply sends the part again.
    await forget();
    throw new ApiError("bad_request", `Part ${partNumber} must be exactly ${size} bytes; it was not stored`, {
      details: { part_number: partNumber, expected_bytes: size },
    });
  }
  if (claimed !== undefined && claimed !== sha256) {
    await forget();
    throw new ApiError(
      "checksum_mismatch",
      `Part ${partNumber} does not match its X-Content-SHA256; it was not stored`,
      {
        details: { part_number: partNumber, expected: claimed, received: sha256 },
      },
    );
  }
  const row = { uploadId: upload.id, partNumber, sizeBytes: size, sha256, etag: uploaded.etag };
  const [stored] = await db
    .insert(uploadParts)
    .values(row)
    .onConflictDoUpdate({
      target: [uploadParts.uploadId, uploadParts.partNumber],
      set: { sizeBytes: size, sha256, etag: uploaded.etag, createdAt: new Date() },
    })
    .returning();
  if (!stored) throw new Error("part upsert returned no row");
  return stored;
}

export async function partsOf(db: Database, uploadId: string): Promise<UploadPart[]> {
  return db.select().from(uploadParts).where(eq(uploadParts.uploadId, uploadId)).orderBy(uploadParts.partNumber);
}

/** The part numbers of `upload` that `parts` (its recorded parts) lack. */
export function missingParts(upload: Upload, parts: readonly UploadPart[]): number[] {
  const received = new Set(parts.map((part) => part.partNumber));
  return Array.from({ length: upload.partCount }, (_, i) => i + 1).filter((n) => !received.has(n));
}

/**
 * Assembles the parts and verifies the whole object. Idempotent: completing a
 * completed upload returns its artifact. A whole-object mismatch deletes the
 * bytes and closes the upload (the client starts a new one).
 */
export async function completeUpload(
  env: Env,
  db: Database,
  upload: Upload,
  /** The parts as the client saw them, if it sent them: any disagreement is refused. */
  claimed?: readonly { part_number: number; etag: string }[],
): Promise<Artifact> {
  if (upload.status === "completed") return completedArtifact(db, upload);
  assertOpen(upload);
  const parts = await partsOf(db, upload.id);
  const disagreeing = (claimed ?? []).filter(
    (mine) => parts.find((part) => part.partNumber === mine.part_number)?.etag !== mine.etag,
  );
  if (disagreeing.length > 0) {
    throw new ApiError("upload_incomplete", "Some parts differ from what the server stored; GET the upload", {
      details: { differing_parts: disagreeing.map((part) => part.part_number) },
    });
  }
  const missing = missingParts(upload, parts);
  if (missing.length > 0) {
    throw new ApiError("upload_incomplete", `Parts ${missing.join(", ")} have not arrived`, {
      details: { missing_parts: missing },
    });
  }
  try {
    await env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.r2UploadId).complete(
      parts.map((part) => ({ partNumber: part.partNumber, etag: part.etag })),
    );
  } catch (error) {
    // A concurrent complete may have won: answer with its artifact.
    const [now] = await db.select().from(uploads).where(eq(uploads.id, upload.id)).limit(1);
    if (now?.status === "completed") return completedArtifact(db, now);
    throw error;
  }
  // The running digest, which reads back only the parts it did not take in order; the whole object if it cannot.
  const running = await digestOf(env, upload)
    .finish(upload.r2Key, upload.partSize, upload.sizeBytes)
    .catch(() => null);
  const { sha256, size } = running
    ? { sha256: running, size: upload.sizeBytes }
    : await digestObject(env, upload.r2Key);
  if (size !== upload.sizeBytes || (upload.sha256 && upload.sha256 !== sha256)) {
    await env.MEDIA.delete(upload.r2Key);
    await db.update(uploads).set({ status: "aborted" }).where(eq(uploads.id, upload.id));
    throw new ApiError(
      "checksum_mismatch",
      "The assembled file does not match the declared sha256; start a new upload",
      {
        details: { expected: upload.sha256, received: sha256, size_bytes: size },
      },
    );
  }
  const artifact = await recordArtifact(env, db, {
    id: upload.artifactId ?? crypto.randomUUID(),
    ownerPrincipalId: upload.ownerPrincipalId,
    r2Key: upload.r2Key,
    contentType: upload.contentType,
    sizeBytes: upload.sizeBytes,
    sha256,
    kind: upload.jobId ? upload.kind : "input",
    jobId: upload.jobId,
    expiresAt: expiryFor(env, upload.surface),
  });
  await db
    .update(uploads)
    .set({ status: "completed" })
    .where(and(eq(uploads.id, upload.id), eq(uploads.status, "open")));
  return artifact;
}

export async function abortUpload(env: Env, db: Database, upload: Upload): Promise<void> {
  if (upload.status !== "open") return;
  await env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.r2UploadId)
    .abort()
    .catch(() => undefined);
  await db.update(uploads).set({ status: "aborted" }).where(eq(uploads.id, upload.id));
}

function digestOf(env: Env, upload: Upload) {
  return env.UPLOAD_DIGEST.getByName(upload.id);
}

function assertOpen(upload: Upload): void {
  if (upload.status === "aborted") throw new ApiError("state_conflict", "This upload was aborted; start a new one");
  if (upload.status === "completed") throw new ApiError("state_conflict", "This upload is already complete");
  if (upload.expiresAt.getTime() <= Date.now()) throw new ApiError("gone", "This upload expired; start a new one");
}

async function completedArtifact(db: Database, upload: Upload): Promise<Artifact> {
  const [row] = upload.artifactId
    ? await db.select().from(artifacts).where(eq(artifacts.id, upload.artifactId)).limit(1)
    : [];
  if (!row) throw new ApiError("state_conflict", "This upload completed but its artifact is gone");
  return row;
}
