/**
 * A generation's reference images, turned into the artifacts its job reads
 * before anything is dispatched: uploads named by id must be the caller's,
 * images, and unexpired; data URIs are decoded, checked to be the image type
 * they claim, and stored in R2. A problem with one is a field-level 422.
 */

import { and, eq, inArray } from "drizzle-orm";
import { fromBase64url } from "../../auth/crypto";
import type { Database } from "../../db/client";
import { artifacts } from "../../db/schema";
import { ApiError, type FieldIssue } from "../../errors/api-error";
import { type Artifact, discardArtifacts, isGone, storeArtifact } from "../media/artifacts";
import type { RequestedImage } from "./request";
import { SURFACE } from "./tasks";

export interface StoredImages {
  /** Job input name → artifact id. */
  inputs: Record<string, string>;
  /** Artifacts made here from data URIs: they belong to the task and go with it. */
  stored: Pick<Artifact, "id" | "r2Key">[];
}

/** First bytes of each accepted type: a data URI must hold what its header says. */
const SIGNATURES: Record<string, (bytes: Uint8Array) => boolean> = {
  "image/png": (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47,
  "image/jpeg": (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  "image/webp": (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP",
};

export async function storeImages(
  env: Env,
  db: Database,
  ownerPrincipalId: number,
  images: readonly RequestedImage[],
): Promise<StoredImages> {
  await checkUploads(db, ownerPrincipalId, images);
  const inputs: Record<string, string> = {};
  const stored: Artifact[] = [];
  try {
    for (const image of images) {
      const { source } = image;
      if (source.kind === "artifact") {
        inputs[image.input] = source.artifactId;
        continue;
      }
      // One at a time: each decoded image (up to 12 MiB) is garbage before the next is decoded.
      const bytes = fromBase64url(source.base64);
      if (!SIGNATURES[source.contentType]?.(bytes)) {
        throw invalid([issue(image, `the data is not a ${source.contentType} image`)]);
      }
      const artifact = await storeArtifact(env, db, {
        ownerPrincipalId,
        surface: SURFACE,
        body: new Blob([bytes]).stream(),
        sizeBytes: bytes.byteLength,
        contentType: source.contentType,
      });
      stored.push(artifact);
      inputs[image.input] = artifact.id;
    }
  } catch (error) {
    await discardArtifacts(env, db, stored).catch(() => undefined);
    throw error;
  }
  return { inputs, stored: stored.map(({ id, r2Key }) => ({ id, r2Key })) };
}

/** Uploaded images named by id: the caller's own (others' look missing), images, not expired. */
async function checkUploads(db: Database, ownerPrincipalId: number, images: readonly RequestedImage[]): Promise<void> {
  const wanted = images.flatMap((image) =>
    image.source.kind === "artifact" ? [{ image, id: image.source.artifactId }] : [],
  );
  if (wanted.length === 0) return;
  const ids = wanted.map(({ id }) => id);
  const rows = await db
    .select()
    .from(artifacts)
    .where(and(inArray(artifacts.id, ids), eq(artifacts.ownerPrincipalId, ownerPrincipalId)));
  const problems = wanted.flatMap(({ image, id }) => {
    const row = rows.find((candidate) => candidate.id === id);
    if (!row) return [issue(image, `no uploaded artifact ${id}`)];
    if (isGone(row)) return [issue(image, "the upload has expired; upload it again")];
    if (!row.contentType.startsWith("image/")) return [issue(image, `the upload is ${row.contentType}, not an image`)];
    return [];
  });
  if (problems.length > 0) throw invalid(problems);
}

function issue(image: RequestedImage, message: string): FieldIssue {
  return { location: ["body", ...image.path], message, type: "custom" };
}

function invalid(issues: FieldIssue[]): ApiError {
  return new ApiError("validation_failed", "A reference image is unusable", { issues });
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}
