/**
 * Downloads: Range edge cases (RFC 9110), conditional requests, and expiry —
 * 410 at once past expires_at, then the maintenance sweep deletes the bytes
 * and aborts uploads left open.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { RECONCILER_NAME } from "../../durable-objects/reconciler";
import type { ArtifactView, UploadView } from "../../worker/contracts/uploads";
import { parseRange } from "../../worker/core/media/serve";
import { artifacts, uploads } from "../../worker/db/schema";
import { db } from "../helpers/fixtures";
import { expect000 } from "../helpers/http";
import { bytesOf, makeUploader, type Uploader } from "../helpers/uploads";

const SIZE = 1000;
let owner: Uploader;
let artifact: ArtifactView;
const bytes = bytesOf(SIZE, 42);

beforeAll(async () => {
  owner = await makeUploader();
  artifact = await owner.upload(bytes);
});

async function range(header: string) {
  return owner.get(artifact.url, { range: header });
}

describe("Range", () => {
  it("serves the whole object with Accept-Ranges and a strong ETag when no range is asked", async () => {
    const response = await owner.get(artifact.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(response.headers.get("etag")).toBe(`"${artifact.sha256}"`);
    expect(response.headers.get("content-type")).toBe("video/mp4");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it.each([
    ["bytes=0-9", 0, 9],
    ["bytes=990-", 990, 999],
    ["bytes=-5", 995, 999],
    ["bytes=500-5000", 500, 999],
    ["bytes=-5000", 0, 999],
    ["bytes=999-999", 999, 999],
  ])("%s → 206 with the right Content-Range and bytes", async (header, first, last) => {
    const response = await range(header);
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes ${first}-${last}/${SIZE}`);
    expect(response.headers.get("content-length")).toBe(String(last - first + 1));
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes.slice(first, last + 1));
  });

  it.each(["bytes=1000-", "bytes=5000-6000", "bytes=-0"])("%s → 416 with bytes */size", async (header) => {
    const response = await range(header);
    await expect000(response, 416, "range_not_satisfiable");
    expect(response.headers.get("content-range")).toBe(`bytes */${SIZE}`);
  });

  it.each(["bytes=0-1,5-6", "items=0-5", "bytes=9-2", "garbage"])(
    "%s is ignored: 200 with everything",
    async (header) => {
      const response = await range(header);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-length")).toBe(String(SIZE));
      await response.arrayBuffer();
    },
  );

  it("answers If-None-Match with 304, and a stale If-Range with the whole object", async () => {
    const cached = await owner.get(artifact.url, { "if-none-match": `"${artifact.sha256}"` });
    expect(cached.status).toBe(304);
    const stale = await owner.get(artifact.url, { range: "bytes=0-9", "if-range": '"other"' });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    const fresh = await owner.get(artifact.url, { range: "bytes=0-9", "if-range": `"${artifact.sha256}"` });
    expect(fresh.status).toBe(206);
    await fresh.arrayBuffer();
  });

  it("parses ranges as RFC 9110 says", () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange("bytes=-", 10)).toBeNull();
    expect(parseRange("bytes=0-0", 0)).toBe("unsatisfiable");
    expect(parseRange("bytes=3-", 10)).toEqual({ offset: 3, length: 7 });
  });
});

describe("expiry", () => {
  it("answers 410 as soon as an artifact expires, then the sweep deletes its bytes and it stays 410", async () => {
    const mine = await owner.upload(bytesOf(300, 7));
    await db()
      .update(artifacts)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(artifacts.id, mine.artifact_id));
    await expect000(await owner.get(mine.url), 410, "gone");
    const [before] = await db().select().from(artifacts).where(eq(artifacts.id, mine.artifact_id));
    expect(await env.MEDIA.head(before?.r2Key ?? "")).not.toBeNull();

    const report = await env.RECONCILER.getByName(RECONCILER_NAME).sweepMediaNow();
    expect(report.deleted).toContain(mine.artifact_id);
    const [after] = await db().select().from(artifacts).where(eq(artifacts.id, mine.artifact_id));
    expect(after?.deletedAt).not.toBeNull();
    expect(await env.MEDIA.head(after?.r2Key ?? "")).toBeNull();
    await expect000(await owner.get(mine.url), 410, "gone");
  });

  it("gives every artifact an expiry from the surface's configured lifetime", async () => {
    const [row] = await db().select().from(artifacts).where(eq(artifacts.id, artifact.artifact_id));
    const days = ((row?.expiresAt?.getTime() ?? 0) - (row?.createdAt.getTime() ?? 0)) / 86_400_000;
    expect(days).toBeCloseTo(7, 1);
  });

  it("aborts an upload left open past its expiry; it can no longer take parts", async () => {
    const response = await owner.init({ content_type: "video/mp4", size_bytes: 10 });
    const upload = (await response.json()) as UploadView;
    await db()
      .update(uploads)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(uploads.id, upload.upload_id));
    await expect000(await owner.part(upload.upload_id, 1, bytesOf(10)), 410, "gone");
    const report = await env.RECONCILER.getByName(RECONCILER_NAME).sweepMediaNow();
    expect(report.abortedUploads).toContain(upload.upload_id);
    await expect000(await owner.part(upload.upload_id, 1, bytesOf(10)), 409, "state_conflict");
  });
});
