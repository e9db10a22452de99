/**
 * A job's outputs: uploaded by its lease holder only, through the same
 * chunked mechanism users have, stored as the task owner's under the task,
 * and accepted by submit only when derived_manifest names exactly this job's
 * uploads of the kinds its type declares.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Job } from "../../worker/contracts/agent-protocol";
import type { UploadView } from "../../worker/contracts/uploads";
import { artifacts, jobs } from "../../worker/db/schema";
import { db } from "../helpers/fixtures";
import { call, expect003 } from "../helpers/http";
import { type Bridge, makeBridge, makeOperator, type Operator, uploadInput, waitUntilListed } from "../helpers/jobs";
import { bytesOf, sha256Hex, uploadJobOutput } from "../helpers/uploads";

const THUMB_FACTS = { width: 480, height: 270, at_ms: 1000 };

async function dispatchThumbnail(op: Operator): Promise<{ taskId: string; jobId: string }> {
  const source = await uploadInput(op);
  const response = await call("/admin/jobs", {
    cookies: op.cookies,
    json: { job_type: "make_thumbnail", inputs: { source } },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  const body = (await response.json()) as { task_id: string; job_ids: string[] };
  return { taskId: body.task_id, jobId: body.job_ids[0] as string };
}

async function claimed(bridge: Bridge, jobId: string): Promise<Job> {
  await waitUntilListed(bridge, jobId);
  return bridge.claim(jobId);
}

function submit(bridge: Bridge, job: Job, manifest: unknown[]) {
  return bridge.call(`/api/v1/jobs/${job.job_id}/submit`, {
    lock_token: job.lock_token,
    result: { facts: THUMB_FACTS, derived_manifest: manifest },
  });
}

describe("job outputs", () => {
  it("stores the holder's output as the task owner's, and submit records the server's manifest", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge(["media.thumbnails@1"]);
    const { taskId, jobId } = await dispatchThumbnail(op);
    const job = await claimed(bridge, jobId);
    const bytes = bytesOf(4096, 11);
    const artifact = await uploadJobOutput(bridge, job, "thumb", "image/jpeg", bytes);
    expect(artifact).toMatchObject({ kind: "thumb", size_bytes: 4096, url: `/artifacts/${artifact.artifact_id}` });

    const [row] = await db().select().from(artifacts).where(eq(artifacts.id, artifact.artifact_id));
    expect(row).toMatchObject({ ownerPrincipalId: op.adminId, jobId, kind: "thumb" });
    expect(row?.r2Key).toBe(`u/${op.adminId}/tasks/${taskId}/${artifact.artifact_id}`);

    const done = await submit(bridge, job, [{ kind: "thumb", ref: artifact.artifact_id }]);
    expect(done.status, await done.clone().text()).toBe(200);
    const [record] = await db().select().from(jobs).where(eq(jobs.id, jobId));
    expect(record?.result?.derived_manifest).toEqual([
      { kind: "thumb", ref: artifact.artifact_id, size_bytes: 4096, sha256: await sha256Hex(bytes) },
    ]);
  });

  it("refuses uploads without the lease, with a stale one, or of an output the type does not have", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge(["media.thumbnails@1"]);
    const { jobId } = await dispatchThumbnail(op);
    const job = await claimed(bridge, jobId);
    const init = (body: Record<string, unknown>) =>
      bridge.call(`/api/v1/jobs/${jobId}/outputs/init`, { content_type: "image/jpeg", size_bytes: 10, ...body });
    await expect003(await init({ kind: "thumb" }), 423, "LOCK_REQUIRED");
    await expect003(await init({ kind: "thumb", lock_token: "1.stale" }), 423, "LOCK_INVALID");
    await expect003(await init({ kind: "proxy_video", lock_token: job.lock_token }), 422, "VALIDATION_FAILED");
    await expect003(
      await init({ kind: "thumb", content_type: "image/png", lock_token: job.lock_token }),
      422,
      "VALIDATION_FAILED",
    );
    // Another agent cannot touch the holder's upload either.
    const other = await makeBridge(["media.thumbnails@1"]);
    const opened = await init({ kind: "thumb", lock_token: job.lock_token });
    const upload = (await opened.json()) as UploadView;
    const foreign = await other.call(`/api/v1/jobs/${jobId}/outputs/${upload.upload_id}`);
    await expect003(foreign, 423, "LOCK_REQUIRED");
    // Nor through a job it holds itself: the upload is found only under its own job.
    const own = await claimed(other, (await dispatchThumbnail(op)).jobId);
    const lease = { "x-lock-token": own.lock_token ?? "" };
    const across = `/api/v1/jobs/${own.job_id}/outputs`;
    await expect003(
      await call(`${across}/${upload.upload_id}`, { bearer: other.token, headers: lease }),
      404,
      "NOT_FOUND",
    );
    const part = await call(`${across}/part?upload_id=${upload.upload_id}&part_number=1`, {
      method: "POST",
      bearer: other.token,
      headers: { ...lease, "content-type": "application/octet-stream" },
      body: bytesOf(10),
    });
    await expect003(part, 404, "NOT_FOUND");
  });

  it("refuses a manifest naming another job's output, a wrong kind, or missing the declared output", async () => {
    const op = await makeOperator();
    const bridge = await makeBridge(["media.thumbnails@1"]);
    const first = await dispatchThumbnail(op);
    const second = await dispatchThumbnail(op);
    const jobA = await claimed(bridge, first.jobId);
    const jobB = await claimed(bridge, second.jobId);
    const fromA = await uploadJobOutput(bridge, jobA, "thumb", "image/jpeg", bytesOf(100, 1));
    const fromB = await uploadJobOutput(bridge, jobB, "thumb", "image/jpeg", bytesOf(100, 2));

    await expect003(await submit(bridge, jobB, [{ kind: "thumb", ref: fromA.artifact_id }]), 422, "VALIDATION_FAILED");
    await expect003(await submit(bridge, jobB, []), 422, "VALIDATION_FAILED");
    await expect003(
      await submit(bridge, jobB, [{ kind: "waveform", ref: fromB.artifact_id }]),
      422,
      "VALIDATION_FAILED",
    );
    const lying = [{ kind: "thumb", ref: fromB.artifact_id, sha256: "0".repeat(64) }];
    await expect003(await submit(bridge, jobB, lying), 422, "VALIDATION_FAILED");
    // The job is still held and can be submitted properly.
    const ok = await submit(bridge, jobB, [{ kind: "thumb", ref: fromB.artifact_id }]);
    expect(ok.status, await ok.clone().text()).toBe(200);
  });
});
