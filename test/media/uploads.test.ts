/**
 * The chunked upload API end to end through the Worker, against real R2
 * multipart and D1: layout, part replay, checksums, limits, resume after a
 * broken part, ownership.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { UploadView } from "../../worker/contracts/uploads";
import { artifacts, uploads } from "../../worker/db/schema";
import { db } from "../helpers/fixtures";
import { expect000 } from "../helpers/http";
import { bytesOf, makeUploader, PART, sha256Hex } from "../helpers/uploads";

const SIZE = PART + 1234;

async function open(uploader: Awaited<ReturnType<typeof makeUploader>>, bytes: Uint8Array, sha = true) {
  const response = await uploader.init({
    content_type: "video/mp4",
    size_bytes: bytes.byteLength,
    ...(sha ? { sha256: await sha256Hex(bytes) } : {}),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as UploadView;
}

describe("chunked uploads", () => {
  it("fixes the part layout at init and assembles parts sent out of order", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE);
    const upload = await open(uploader, bytes);
    expect(upload).toMatchObject({ part_count: 2, part_size_bytes: PART, missing_parts: [1, 2], status: "open" });
    expect(upload.upload_url).toBe(`/uploads/part?upload_id=${upload.upload_id}&part_number={part_number}`);

    expect((await uploader.part(upload.upload_id, 2, bytes.slice(PART))).status).toBe(200);
    expect((await uploader.status(upload.upload_id)).missing_parts).toEqual([1]);
    expect((await uploader.part(upload.upload_id, 1, bytes.slice(0, PART))).status).toBe(200);

    const done = await uploader.complete(upload.upload_id);
    expect(done.status, await done.clone().text()).toBe(201);
    const artifact = (await done.json()) as { artifact_id: string; sha256: string; size_bytes: number; url: string };
    expect(artifact).toMatchObject({ sha256: await sha256Hex(bytes), size_bytes: SIZE });

    const download = await uploader.get(artifact.url);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-length")).toBe(String(SIZE));
    expect(await sha256Hex(await download.arrayBuffer())).toBe(artifact.sha256);

    // Completing again is idempotent: the same artifact.
    const again = await uploader.complete(upload.upload_id);
    expect(again.status).toBe(201);
    expect(((await again.json()) as { artifact_id: string }).artifact_id).toBe(artifact.artifact_id);
  });

  it("takes a re-sent part: the last good copy wins", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE, 2);
    const upload = await open(uploader, bytes);
    await uploader.part(upload.upload_id, 1, bytesOf(PART, 99));
    expect((await uploader.part(upload.upload_id, 1, bytes.slice(0, PART))).status).toBe(200);
    expect((await uploader.part(upload.upload_id, 2, bytes.slice(PART))).status).toBe(200);
    expect((await uploader.part(upload.upload_id, 2, bytes.slice(PART))).status).toBe(200);
    const done = await uploader.complete(upload.upload_id);
    expect(done.status, await done.clone().text()).toBe(201);
  });

  it("refuses a part whose checksum does not match, and does not count it", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE, 3);
    const upload = await open(uploader, bytes);
    const wrong = await uploader.part(upload.upload_id, 2, bytes.slice(PART), { "x-content-sha256": "0".repeat(64) });
    const body = await expect000(wrong, 422, "checksum_mismatch");
    expect(body.detail).toContain("not stored");
    expect((await uploader.status(upload.upload_id)).missing_parts).toEqual([1, 2]);
    const right = await uploader.part(upload.upload_id, 2, bytes.slice(PART), {
      "x-content-sha256": await sha256Hex(bytes.slice(PART)),
    });
    expect(right.status).toBe(200);
  });

  it("counts a re-sent part refused for its checksum as missing, though an earlier copy had arrived", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE, 10);
    const upload = await open(uploader, bytes);
    const second = bytes.slice(PART);
    expect((await uploader.part(upload.upload_id, 2, second)).status).toBe(200);
    expect((await uploader.part(upload.upload_id, 1, bytes.slice(0, PART))).status).toBe(200);
    // R2 takes these bytes as part 2 before the checksum is known to be wrong.
    const corrupt = await uploader.part(upload.upload_id, 2, bytesOf(second.byteLength, 77), {
      "x-content-sha256": await sha256Hex(second),
    });
    await expect000(corrupt, 422, "checksum_mismatch");
    expect((await uploader.status(upload.upload_id)).missing_parts).toEqual([2]);
    await expect000(await uploader.complete(upload.upload_id), 409, "upload_incomplete");
    expect((await uploader.part(upload.upload_id, 2, second)).status).toBe(200);
    const done = await uploader.complete(upload.upload_id);
    expect(done.status, await done.clone().text()).toBe(201);
    expect(((await done.json()) as { sha256: string }).sha256).toBe(await sha256Hex(bytes));
  });

  it("refuses a part of the wrong length, and one past the last", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE, 4);
    const upload = await open(uploader, bytes);
    await expect000(await uploader.part(upload.upload_id, 2, bytes.slice(PART + 1)), 400, "bad_request");
    await expect000(await uploader.part(upload.upload_id, 3, bytes.slice(0, 10)), 422, "validation_error");
    expect((await uploader.status(upload.upload_id)).missing_parts).toEqual([1, 2]);
  });

  it("resumes after a connection drops mid-part: the broken part is not recorded, re-sending it completes", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE, 5);
    const upload = await open(uploader, bytes);
    const first = bytes.slice(0, PART);
    let sent = false;
    const dropped = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          controller.enqueue(first.slice(0, 1024 * 1024));
          sent = true;
        } else controller.error(new Error("connection reset"));
      },
    });
    const broken = await uploader.part(upload.upload_id, 1, dropped).catch(() => null);
    if (broken) expect(broken.status).toBeGreaterThanOrEqual(400);
    expect((await uploader.status(upload.upload_id)).missing_parts).toEqual([1, 2]);

    expect((await uploader.part(upload.upload_id, 2, bytes.slice(PART))).status).toBe(200);
    expect((await uploader.status(upload.upload_id)).missing_parts).toEqual([1]);
    expect((await uploader.part(upload.upload_id, 1, first)).status).toBe(200);
    expect((await uploader.complete(upload.upload_id)).status).toBe(201);
  });

  it("lists the missing parts when completed too early", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE, 6);
    const upload = await open(uploader, bytes);
    await uploader.part(upload.upload_id, 2, bytes.slice(PART));
    const early = await uploader.complete(upload.upload_id);
    const body = await expect000(early, 409, "upload_incomplete");
    expect(body.detail).toContain("1");
  });

  it("verifies the whole file's sha256 at completion, and deletes a mismatch", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(SIZE, 7);
    const init = await uploader.init({ content_type: "video/mp4", size_bytes: SIZE, sha256: "a".repeat(64) });
    const upload = (await init.json()) as UploadView;
    await uploader.part(upload.upload_id, 1, bytes.slice(0, PART));
    await uploader.part(upload.upload_id, 2, bytes.slice(PART));
    await expect000(await uploader.complete(upload.upload_id), 422, "checksum_mismatch");
    const [row] = await db().select().from(uploads).where(eq(uploads.id, upload.upload_id));
    expect(row?.status).toBe("aborted");
    expect(await env.MEDIA.head(row?.r2Key ?? "")).toBeNull();
    await expect000(await uploader.part(upload.upload_id, 1, bytes.slice(0, PART)), 409, "state_conflict");
  });

  it("computes the sha256 when none was declared", async () => {
    const uploader = await makeUploader();
    const bytes = bytesOf(1000, 8);
    const upload = await open(uploader, bytes, false);
    expect(upload.part_count).toBe(1);
    await uploader.part(upload.upload_id, 1, bytes);
    const done = await uploader.complete(upload.upload_id);
    expect(((await done.json()) as { sha256: string }).sha256).toBe(await sha256Hex(bytes));
  });

  it("answers 413 at init for a file over the limit, before any byte is sent", async () => {
    const uploader = await makeUploader();
    const response = await uploader.init({ content_type: "video/mp4", size_bytes: 65 * 1024 * 1024 });
    await expect000(response, 413, "payload_too_large");
  });

  it("validates the init body", async () => {
    const uploader = await makeUploader();
    await expect000(await uploader.init({ content_type: "not a type", size_bytes: 0 }), 422, "validation_error");
  });

  it("hides one owner's upload and artifact from another (404, like missing)", async () => {
    const [alice, mallory] = await Promise.all([makeUploader(), makeUploader()]);
    const bytes = bytesOf(2000, 9);
    const artifact = await alice.upload(bytes);
    const upload = await open(alice, bytes);
    await expect000(await mallory.get(`/uploads/${upload.upload_id}`), 404, "not_found");
    await expect000(await mallory.part(upload.upload_id, 1, bytes), 404, "not_found");
    await expect000(await mallory.complete(upload.upload_id), 404, "not_found");
    await expect000(await mallory.get(artifact.url), 404, "not_found");
    const [row] = await db().select().from(artifacts).where(eq(artifacts.id, artifact.artifact_id));
    expect(row?.r2Key).toBe(`u/${alice.principalId}/inputs/${artifact.artifact_id}`);
  });

  it("needs a credential, and refuses a bad key with 403", async () => {
    const bytes = bytesOf(10);
    const { call } = await import("../helpers/http");
    await expect000(
      await call("/uploads/init", { json: { content_type: "video/mp4", size_bytes: 10 } }),
      401,
      "generation_session_missing",
    );
    const bad = await call("/uploads/init", {
      headers: { "x-api-key": "nope" },
      json: { content_type: "video/mp4", size_bytes: bytes.length },
    });
    await expect000(bad, 403, "invalid_api_key");
  });
});
