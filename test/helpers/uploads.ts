/** Chunked-upload helpers: deterministic bytes, their digest, and the protocol's calls for a 000 caller. */
import { expect } from "vitest";
import { sha256Hex as sha256HexOf } from "../../worker/auth/crypto";
import type { Job } from "../../worker/contracts/agent-protocol";
import type { ArtifactView, UploadView } from "../../worker/contracts/uploads";
import { makeApiKey, makeUser } from "./fixtures";
import { call } from "./http";
import type { Bridge } from "./jobs";

export const PART = 5 * 1024 * 1024;

/** `size` bytes that differ from offset to offset (and with `seed`), so a misplaced part shows. */
export function bytesOf(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** SHA-256 hex of bytes as a test holds them (downloads arrive as an ArrayBuffer). */
export function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  return sha256HexOf(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
}

export interface Uploader {
  key: string;
  principalId: number;
  init(body: Record<string, unknown>): Promise<Response>;
  part(uploadId: string, n: number, body: BodyInit, headers?: Record<string, string>): Promise<Response>;
  status(uploadId: string): Promise<UploadView>;
  complete(uploadId: string, extra?: Record<string, unknown>): Promise<Response>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** init → every part → complete, expecting success. */
  upload(bytes: Uint8Array, contentType?: string): Promise<ArtifactView>;
}

export async function makeUploader(): Promise<Uploader> {
  const user = await makeUser();
  const { secret: key } = await makeApiKey(user.id);
  const headers = { "x-api-key": key };
  const uploader: Uploader = {
    key,
    principalId: user.id,
    init: (body) => call("/uploads/init", { headers, json: body }),
    part: (uploadId, n, body, extra = {}) =>
      call(`/uploads/part?upload_id=${uploadId}&part_number=${n}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/octet-stream", ...extra },
        body,
      }),
    status: async (uploadId) => {
      const response = await call(`/uploads/${uploadId}`, { headers });
      expect(response.status, await response.clone().text()).toBe(200);
      return (await response.json()) as UploadView;
    },
    complete: (uploadId, extra = {}) => call("/uploads/complete", { headers, json: { upload_id: uploadId, ...extra } }),
    get: (path, extra = {}) => call(path, { headers: { ...headers, ...extra } }),
    upload: async (bytes, contentType = "video/mp4") => {
      const init = await uploader.init({
        content_type: contentType,
        size_bytes: bytes.byteLength,
        sha256: await sha256Hex(bytes),
      });
      expect(init.status, await init.clone().text()).toBe(201);
      const upload = (await init.json()) as UploadView;
      for (let n = 1; n <= upload.part_count; n++) {
        const slice = bytes.slice((n - 1) * upload.part_size_bytes, n * upload.part_size_bytes);
        const part = await uploader.part(upload.upload_id, n, slice);
        expect(part.status, await part.clone().text()).toBe(200);
      }
      const done = await uploader.complete(upload.upload_id);
      expect(done.status, await done.clone().text()).toBe(201);
      return (await done.json()) as ArtifactView;
    },
  };
  return uploader;
}

/** init → one part → complete, as the holder of `job` (an agent's output upload). */
export async function uploadJobOutput(
  bridge: Bridge,
  job: Job,
  kind: string,
  contentType: string,
  bytes: Uint8Array,
): Promise<ArtifactView> {
  const init = await bridge.call(`/api/v1/jobs/${job.job_id}/outputs/init`, {
    kind,
    content_type: contentType,
    size_bytes: bytes.byteLength,
    sha256: await sha256Hex(bytes),
    lock_token: job.lock_token,
  });
  expect(init.status, await init.clone().text()).toBe(201);
  const upload = (await init.json()) as UploadView;
  const part = await call(`/api/v1/jobs/${job.job_id}/outputs/part?upload_id=${upload.upload_id}&part_number=1`, {
    method: "POST",
    bearer: bridge.token,
    headers: { "x-lock-token": job.lock_token ?? "", "content-type": "application/octet-stream" },
    body: bytes,
  });
  expect(part.status, await part.clone().text()).toBe(200);
  const done = await bridge.call(`/api/v1/jobs/${job.job_id}/outputs/complete`, {
    upload_id: upload.upload_id,
    lock_token: job.lock_token,
  });
  expect(done.status, await done.clone().text()).toBe(201);
  return (await done.json()) as ArtifactView;
}
