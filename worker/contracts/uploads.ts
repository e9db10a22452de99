/**
 * The chunked upload protocol (contract 003 §6's init / part / complete),
 * shared by the user routes (/uploads/*), the job output routes
 * (/api/v1/jobs/{id}/outputs/*) and the GPU bridge's client. A part's bytes are
 * the raw request body; its upload and number travel in the query string.
 * Only zod is imported.
 */
import { z } from "zod";

/** Optional on a part: its hex SHA-256, checked as it streams; a mismatch refuses the part (422). */
export const PART_SHA256_HEADER = "x-content-sha256";

const sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex characters")
  .describe("hex SHA-256 of the whole file, verified at completion");

export const initUploadSchema = z.object({
  content_type: z
    .string()
    .max(128)
    .regex(/^[\w.+-]+\/[\w.+-]+$/, "expected a MIME type such as video/mp4"),
  size_bytes: z.number().int().positive(),
  sha256: sha256.optional(),
});
export type InitUploadBody = z.infer<typeof initUploadSchema>;

/** Job outputs also say which of the job type's outputs this is, and carry the lease. */
export const initOutputSchema = initUploadSchema.extend({
  kind: z.string().min(1).max(64),
  lock_token: z.string().max(256).optional(),
});

export const partQuerySchema = z.object({
  upload_id: z.string().uuid(),
  part_number: z.coerce.number().int().min(1).max(10_000),
});

export const completeUploadSchema = z.object({
  upload_id: z.string().uuid(),
  /** Optional: the parts as the client saw them; any disagreement with what the server stored is refused. */
  parts: z
    .array(z.object({ part_number: z.number().int().min(1), etag: z.string().max(256) }))
    .max(10_000)
    .optional(),
  lock_token: z.string().max(256).optional(),
});

export const uploadSchema = z.object({
  upload_id: z.string().uuid(),
  status: z.enum(["open", "completed", "aborted"]),
  content_type: z.string(),
  size_bytes: z.number().int(),
  /** Every part but the last is exactly this size. */
  part_size_bytes: z.number().int(),
  max_part_size_bytes: z.number().int(),
  part_count: z.number().int(),
  /** Where to send part N: replace {part_number}. */
  upload_url: z.string(),
  parts: z.array(
    z.object({
      part_number: z.number().int(),
      size_bytes: z.number().int(),
      sha256: z.string().nullable(),
      etag: z.string(),
    }),
  ),
  missing_parts: z.array(z.number().int()),
  artifact_id: z.string().nullable(),
  expires_at: z.string().datetime(),
});
export type UploadView = z.infer<typeof uploadSchema>;

export const uploadedPartSchema = z.object({
  part_number: z.number().int(),
  size_bytes: z.number().int(),
  /** The part's verified SHA-256 when X-Content-SHA256 was sent, else null. */
  sha256: z.string().nullable(),
  etag: z.string(),
});

export const artifactSchema = z.object({
  artifact_id: z.string().uuid(),
  kind: z.string(),
  content_type: z.string(),
  size_bytes: z.number().int(),
  sha256: z.string(),
  expires_at: z.string().datetime().nullable(),
  /** Same-origin path to download it (Range supported). */
  url: z.string(),
});
export type ArtifactView = z.infer<typeof artifactSchema>;
