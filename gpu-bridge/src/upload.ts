/**
 * Uploads a job's output file through the Worker's chunked upload API:
 * whole-file SHA-256 first (declared at init, verified by the Worker at
 * completion), then each part with its own SHA-256, one part in memory at a
 * time. A part that fails transiently is sent again (re-sending replaces it);
 * a lost lease stops the upload at once.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { ArtifactView } from "../../worker/contracts/uploads";
import type { AgentClient } from "./client";
import { errorMessage, FatalError, isLeaseLost, isTransient, JobError, LeaseLostError } from "./errors";
import { isSystemError } from "./failure";
import type { OutputFile } from "./handlers/types";
import { type Backoff, retrying } from "./retry";

const PART_ATTEMPTS = 4;

export interface UploadOptions {
  client: AgentClient;
  jobId: string;
  lockToken: string;
  signal: AbortSignal;
  backoff: Backoff;
  onBytes?: (sent: number, total: number) => void;
}

export async function uploadOutput(output: OutputFile, options: UploadOptions): Promise<ArtifactView> {
  const { client, jobId, lockToken, signal } = options;
  const size = await stat(output.path).then(
    (info) => info.size,
    () => {
      throw new JobError("output_missing", `the handler reported ${output.kind} at a path that does not exist`, false);
    },
  );
  if (size === 0) throw new JobError("output_empty", `the ${output.kind} output is empty`, true);
  const retry = { backoff: options.backoff, signal, attempts: PART_ATTEMPTS };
  return mapped(output, async () => {
    const sha256 = await fileSha256(output.path, signal);
    const upload = await client.initOutput(
      jobId,
      { kind: output.kind, content_type: output.contentType, size_bytes: size, sha256, lock_token: lockToken },
      signal,
    );
    const file = await open(output.path, "r");
    try {
      for (let number = 1; number <= upload.part_count; number++) {
        const offset = (number - 1) * upload.part_size_bytes;
        const bytes = new Uint8Array(Math.min(upload.part_size_bytes, size - offset));
        await file.read(bytes, 0, bytes.length, offset);
        const partSha = createHash("sha256").update(bytes).digest("hex");
        const part = { uploadId: upload.upload_id, number, bytes, sha256: partSha, lockToken };
        await retrying(() => client.putOutputPart(jobId, part, signal), retry);
        options.onBytes?.(offset + bytes.length, size);
      }
    } finally {
      await file.close();
    }
    const body = { upload_id: upload.upload_id, lock_token: lockToken };
    return retrying(() => client.completeOutput(jobId, body, signal), retry);
  });
}

/** What a failed upload means for the job: a lost lease, or a failure worth another attempt. */
async function mapped<T>(output: OutputFile, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FatalError || error instanceof JobError || error instanceof LeaseLostError) throw error;
    if (isLeaseLost(error)) throw new LeaseLostError(`uploading ${output.kind}: ${error.message}`);
    const detail = errorMessage(error);
    // A refusal (wrong kind, too large) will not change on retry; the network or the Worker may.
    throw new JobError(
      "output_upload_failed",
      `uploading ${output.kind}: ${detail}`,
      isTransient(error) || isSystemError(error),
    );
  }
}

async function fileSha256(file: string, signal: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { signal })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
