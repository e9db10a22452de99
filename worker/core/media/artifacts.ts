/**
 * Stored media. Bytes live in R2 under a key namespaced by owner and, for job
 * outputs, by task (docs/media.md has the layout); the D1 row says who owns
 * them, what they are and until when. The SHA-256 is computed while
 * streaming, never by buffering.
 */
import { eq, inArray } from "drizzle-orm";
import { configFrom, mediaTtlSeconds } from "../../config";
import type { Database } from "../../db/client";
import { artifacts } from "../../db/schema";
import { ApiError } from "../../errors/api-error";
import { fixedLength, hashing } from "./digest";

export type Artifact = typeof artifacts.$inferSelect;

/** Where an artifact's bytes go: inputs by owner, job outputs by owner and task. */
export function artifactKey(ownerPrincipalId: number, artifactId: string, taskId?: string): string {
  return taskId ? `u/${ownerPrincipalId}/tasks/${taskId}/${artifactId}` : `u/${ownerPrincipalId}/inputs/${artifactId}`;
}

export function expiryFor(env: Env, surface: string, from = Date.now()): Date {
  return new Date(from + mediaTtlSeconds(configFrom(env), surface) * 1000);
}

/** One request body straight into R2 (small inputs); larger files go through the chunked upload API. */
export async function storeArtifact(
  env: Env,
  db: Database,
  input: {
    ownerPrincipalId: number;
    surface: string;
    body: ReadableStream<Uint8Array>;
    sizeBytes: number;
    contentType: string;
  },
): Promise<Artifact> {
  const id = crypto.randomUUID();
  const r2Key = artifactKey(input.ownerPrincipalId, id);
  const hash = hashing();
  try {
    // FixedLengthStream refuses a body longer or shorter than declared.
    await env.MEDIA.put(r2Key, fixedLength(input.body.pipeThrough(hash.stream), input.sizeBytes), {
      httpMetadata: { contentType: input.contentType },
    });
  } catch {
    await env.MEDIA.delete(r2Key).catch(() => undefined);
    throw new ApiError("bad_request", `The body did not match its Content-Length of ${input.sizeBytes} bytes`);
  }
  return recordArtifact(env, db, {
    id,
    ownerPrincipalId: input.ownerPrincipalId,
    r2Key,
    contentType: input.contentType,
    sizeBytes: input.sizeBytes,
    sha256: await hash.hex,
    kind: "input",
    jobId: null,
    expiresAt: expiryFor(env, input.surface),
  });
}

/** The D1 row for bytes already in R2; if the row cannot be written the bytes are deleted, not orphaned. */
export async function recordArtifact(env: Env, db: Database, row: typeof artifacts.$inferInsert): Promise<Artifact> {
  try {
    const [inserted] = await db.insert(artifacts).values(row).returning();
    if (!inserted) throw new Error("artifact insert returned no row");
    return inserted;
  } catch (error) {
    await env.MEDIA.delete(row.r2Key).catch(() => undefined);
    throw error;
  }
}

/**
 * The artifact `principalId` may read. Someone else's is reported exactly like
 * a missing one (404, existence not revealed); one past its expiry is 410 at
 * once, whether or not the sweep has deleted its bytes yet.
 */
export async function readableArtifact(
  db: Database,
  artifactId: string,
  principalId: number | "any",
  now = Date.now(),
): Promise<Artifact> {
  const [row] = await db.select().from(artifacts).where(eq(artifacts.id, artifactId)).limit(1);
  if (!row || (principalId !== "any" && row.ownerPrincipalId !== principalId)) {
    throw new ApiError("not_found", "No such artifact");
  }
  if (isGone(row, now)) throw new ApiError("gone", "This media has expired and its bytes were deleted");
  return row;
}

export function isGone(row: Pick<Artifact, "deletedAt" | "expiresAt">, now = Date.now()): boolean {
  return row.deletedAt !== null || (row.expiresAt !== null && row.expiresAt.getTime() <= now);
}

/**
 * Deletes artifacts' bytes now and marks their rows deleted (reads answer 410),
 * as the expiry sweep does: bytes first, so a failure between the two leaves
 * rows to retry, never rows that claim bytes already gone.
 */
export async function discardArtifacts(
  env: Env,
  db: Database,
  rows: readonly Pick<Artifact, "id" | "r2Key">[],
  now = Date.now(),
): Promise<void> {
  if (rows.length === 0) return;
  await env.MEDIA.delete(rows.map((row) => row.r2Key));
  await db
    .update(artifacts)
    .set({ deletedAt: new Date(now) })
    .where(
      inArray(
        artifacts.id,
        rows.map((row) => row.id),
      ),
    );
}
