/**
 * Upload benchmark: one file through the chunked upload API (init, parts,
 * complete with its whole-file SHA-256 check) against the same bytes sent as
 * one direct R2 put through the floor route POST /bench/put, which
 * authenticates the same way. Both run against the same local Worker, rounds
 * alternating, medians reported in MB/s (10^6 bytes).
 */
import { createHash } from "node:crypto";
import type { UploadView } from "../worker/contracts/uploads";

export interface UploadBenchOptions {
  url: string;
  apiKey: string;
  sizeBytes: number;
  rounds: number;
  /** Parts in flight at once, as a client uploading a large file would send them. */
  concurrency: number;
}

export async function benchUpload(options: UploadBenchOptions) {
  const bytes = patterned(options.sizeBytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const direct: number[] = [];
  const chunked: number[] = [];
  const completing: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    direct.push(await timed(() => directPut(options, bytes)));
    chunked.push(await timed(async () => completing.push(await chunkedUpload(options, bytes, sha256))));
  }
  const mbps = (seconds: number) => options.sizeBytes / 1e6 / seconds;
  const directMbps = mbps(median(direct));
  const chunkedMbps = mbps(median(chunked));
  return {
    size_bytes: options.sizeBytes,
    rounds: options.rounds,
    part_concurrency: options.concurrency,
    direct_seconds: direct,
    chunked_seconds: chunked,
    /** Of which the completion (assembly and the whole-file SHA-256 read-back). */
    complete_seconds: completing,
    direct_mb_per_s_median: directMbps,
    chunked_mb_per_s_median: chunkedMbps,
    ratio: chunkedMbps / directMbps,
  };
}

async function directPut(options: UploadBenchOptions, bytes: Uint8Array): Promise<void> {
  await ok(
    await fetch(`${options.url}/bench/put`, {
      method: "POST",
      headers: { "x-api-key": options.apiKey, "content-type": "application/octet-stream" },
      body: bytes,
    }),
  );
}

/** Returns the seconds the completion took. */
async function chunkedUpload(options: UploadBenchOptions, bytes: Uint8Array, sha256: string): Promise<number> {
  const headers = { "x-api-key": options.apiKey, "content-type": "application/json" };
  const upload = (await ok(
    await fetch(`${options.url}/uploads/init`, {
      method: "POST",
      headers,
      body: JSON.stringify({ content_type: "video/mp4", size_bytes: bytes.byteLength, sha256 }),
    }),
  )) as UploadView;
  let next = 1;
  const sender = async () => {
    while (next <= upload.part_count) {
      const n = next++;
      const part = bytes.subarray((n - 1) * upload.part_size_bytes, n * upload.part_size_bytes);
      await ok(
        await fetch(`${options.url}/uploads/part?upload_id=${upload.upload_id}&part_number=${n}`, {
          method: "POST",
          headers: { "x-api-key": options.apiKey, "content-type": "application/octet-stream" },
          body: part,
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, sender));
  return timed(async () => {
    await ok(
      await fetch(`${options.url}/uploads/complete`, {
        method: "POST",
        headers,
        body: JSON.stringify({ upload_id: upload.upload_id }),
      }),
    );
  });
}

/** Bytes that do not compress or repeat trivially. */
function patterned(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
    bytes[i + 1] = (x >>> 8) & 0xff;
    bytes[i + 2] = (x >>> 16) & 0xff;
    bytes[i + 3] = (x >>> 24) & 0xff;
  }
  return bytes;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function ok(response: Response): Promise<unknown> {
  if (!response.ok) throw new Error(`${response.url}: ${response.status} ${await response.text()}`);
  return response.json();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
