/**
 * The gallery: the caller's done generations newest first as the contract's
 * array (paged by limit/cursor without changing that shape), and DELETE,
 * which takes the files, their artifacts and the task, so later reads are
 * 404 (the task) and 410 (the bytes). Expired results are 410.
 */
import { env } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { artifacts, jobs, tasks } from "../../worker/db/schema";
import { db } from "../helpers/fixtures";
import {
  type Client,
  claimGeneration,
  dataUri,
  doneImage,
  IMAGE,
  imageBytes,
  jobOf,
  liveBridge,
  makeClient,
  started,
} from "../helpers/generation";
import { expect000, expect003 } from "../helpers/http";
import type { Bridge } from "../helpers/jobs";

let bridge: Bridge;

beforeAll(async () => {
  bridge = await liveBridge("image");
});

interface Item {
  id: string;
  task_id: string;
  model: string;
  label: string;
  prompt: string;
  parameters: Record<string, unknown>;
  width: number;
  height: number;
  seed: number;
  preview_url: string;
  result_url: string;
}

async function gallery(client: Client, query = ""): Promise<{ items: Item[]; next: string | null }> {
  const response = await client.get(`/gallery${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  return { items: (await response.json()) as Item[], next: response.headers.get("x-next-cursor") };
}

describe("GET /gallery", () => {
  it("lists only done generations, newest first, as an array of projections", async () => {
    const client = await makeClient();
    const first = await doneImage(client, bridge, { ...IMAGE, prompt: "first", seed: 1 });
    const failed = await claimGeneration(bridge, await started(client, { ...IMAGE, prompt: "fails" }));
    const fail = await bridge.fail(failed, { error_code: "gpu_oom", message: "out of memory", retryable: false });
    expect(fail.status, await fail.clone().text()).toBe(200);
    const third = await doneImage(client, bridge, { ...IMAGE, model: "pony", prompt: "third", seed: 3 });
    await started(client, { ...IMAGE, prompt: "still pending" });

    const { items, next } = await gallery(client);
    expect(next).toBeNull();
    expect(items.map((item) => item.task_id)).toEqual([third.taskId, first.taskId]);
    expect(items[0]).toEqual({
      id: third.taskId,
      task_id: third.taskId,
      model: "pony",
      label: "pony",
      type: "image",
      mode: "txt2img",
      prompt: "third",
      negative_prompt: "",
      parameters: expect.objectContaining({ seed: 3, steps: 30, guidance_scale: 7, width: 256, height: 256 }),
      width: 256,
      height: 256,
      seed: 3,
      created_at: expect.stringMatching(/^\d{4}-/),
      preview_url: `/preview/${third.taskId}`,
      result_url: `/results/${third.taskId}`,
    });
  });

  it("pages with limit and cursor, keeping the array shape; the next cursor rides in X-Next-Cursor", async () => {
    const client = await makeClient();
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await doneImage(client, bridge, { ...IMAGE, seed: i })).taskId);
    const seen: string[] = [];
    let query = "?limit=2";
    for (let page = 0; page < 5; page++) {
      const { items, next } = await gallery(client, query);
      seen.push(...items.map((item) => item.task_id));
      if (!next) break;
      expect(items).toHaveLength(2);
      query = `?limit=2&cursor=${next}`;
    }
    expect(seen).toEqual([...made].reverse());
    await expect000(await client.get("/gallery?cursor=nonsense"), 422, "validation_error");
    await expect000(await client.get("/gallery?limit=0"), 422, "validation_error");
  });
});

describe("DELETE /gallery/{task_id}", () => {
  it("answers 204 and removes the files, the artifacts and the task: then 404 for the task, 410 for the bytes", async () => {
    const client = await makeClient();
    const body = { ...IMAGE, mode: "img2img", reference_image: dataUri(imageBytes(400)) };
    const { taskId } = await doneImage(client, bridge, body);
    const jobId = await jobOf(taskId);
    const owned = await db().select().from(artifacts).where(eq(artifacts.ownerPrincipalId, client.principalId));
    expect(owned.map((row) => row.kind).sort()).toEqual(["image", "input", "preview"]);

    const deleted = await client.delete(`/gallery/${taskId}`);
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe("");

    for (const path of [`/status/${taskId}`, `/results/${taskId}`, `/preview/${taskId}`]) {
      await expect000(await client.get(path), 404, "task_not_found");
    }
    await expect000(await client.delete(`/gallery/${taskId}`), 404, "task_not_found");
    expect((await gallery(client)).items).toEqual([]);
    expect(await db().select().from(tasks).where(eq(tasks.id, taskId))).toEqual([]);
    expect(await db().select().from(jobs).where(eq(jobs.id, jobId))).toEqual([]);
    const rows = await db()
      .select()
      .from(artifacts)
      .where(
        inArray(
          artifacts.id,
          owned.map((row) => row.id),
        ),
      );
    // The rows stay, marked deleted, so their URLs can answer 410.
    expect(rows).toHaveLength(owned.length);
    for (const row of rows) {
      expect(row.deletedAt).not.toBeNull();
      expect(await env.MEDIA.head(row.r2Key)).toBeNull();
      await expect000(await client.get(`/artifacts/${row.id}`), 410, "gone");
    }
  });

  it("stops an unfinished generation first: its bridge is refused at the next heartbeat", async () => {
    const client = await makeClient();
    const taskId = await started(client);
    const job = await claimGeneration(bridge, taskId);
    expect((await client.delete(`/gallery/${taskId}`)).status).toBe(204);
    await expect003(await bridge.heartbeat(job, { progress: 0.5 }), 409, "STATE_CONFLICT");
    await expect000(await client.get(`/status/${taskId}`), 404, "task_not_found");
  });
});

describe("expired results", () => {
  it("answer 410 result_file_missing, and the preview too", async () => {
    const client = await makeClient();
    const { taskId } = await doneImage(client, bridge);
    await db()
      .update(artifacts)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(artifacts.ownerPrincipalId, client.principalId));
    await expect000(await client.get(`/results/${taskId}`), 410, "result_file_missing");
    await expect000(await client.get(`/preview/${taskId}`), 410, "result_file_missing");
    // The task itself is still there.
    expect((await client.get(`/status/${taskId}`)).status).toBe(200);
  });

  it("a result not ready yet is 404 result_not_ready / preview_not_ready", async () => {
    const client = await makeClient();
    const taskId = await started(client);
    await expect000(await client.get(`/results/${taskId}`), 404, "result_not_ready");
    await expect000(await client.get(`/preview/${taskId}`), 404, "preview_not_ready");
  });
});
