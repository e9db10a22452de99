/** Uploads and artifacts as the upload protocol (worker/contracts/uploads.ts) renders them. */
import type { ArtifactView, UploadView } from "../../contracts/uploads";
import type { Artifact } from "./artifacts";
import { missingParts, type Upload, type UploadPart } from "./uploads";

/** `partPath` is where parts go for this surface, e.g. "/uploads/part". */
export function uploadView(upload: Upload, parts: readonly UploadPart[], partPath: string): UploadView {
  return {
    upload_id: upload.id,
    status: upload.status,
    content_type: upload.contentType,
    size_bytes: upload.sizeBytes,
    part_size_bytes: upload.partSize,
    max_part_size_bytes: upload.partSize,
    part_count: upload.partCount,
    upload_url: `${partPath}?upload_id=${upload.id}&part_number={part_number}`,
    parts: parts.map(partView),
    missing_parts: upload.status === "open" ? missingParts(upload, parts) : [],
    artifact_id: upload.status === "completed" ? upload.artifactId : null,
    expires_at: upload.expiresAt.toISOString(),
  };
}

export function partView(part: UploadPart) {
  return { part_number: part.partNumber, size_bytes: part.sizeBytes, sha256: part.sha256, etag: part.etag };
}

/** `urlBase` is where this surface serves artifacts, e.g. "/artifacts". */
export function artifactView(artifact: Artifact, urlBase: string): ArtifactView {
  return {
    artifact_id: artifact.id,
    kind: artifact.kind,
    content_type: artifact.contentType,
    size_bytes: artifact.sizeBytes,
    sha256: artifact.sha256,
    expires_at: artifact.expiresAt?.toISOString() ?? null,
    url: `${urlBase}/${artifact.id}`,
  };
}
