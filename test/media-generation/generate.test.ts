/**
 * POST /generate once a request is valid: the model by id or alias (responses
 * say both), the seed settled and recorded, reference images stored in R2
 * before the task and its job are written, each mode's job, provider routing,
 * Idempotency-Key replays, and a guest session's quotas.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { configFrom } from "../../worker/config";
import { providerRoute } from "../../worker/core/generation/plan";
import { artifacts, tasks } from "../../worker/db/schema";
import { COOKIES } from "../../worker/http/cookies";
import { db, makeGuestSession, updatePrincipal } from "../helpers/fixtures";
import {
  type Client,
  dataUri,
  IMAGE,
  imageBytes,
  jobOf,
  liveBridge,
  makeClient,
  readStatus,
  started,
  VIDEO,
} from "../helpers/generation";
import { call, expect000 } from "../helpers/http";
import { jobRecord, taskRecord } from "../helpers/jobs";
import { makeUploader } from "../helpers/uploads";

let client: Client;

beforeAll(async () => {
  client = await makeClient();
  await Promise.all([liveBridge("image"), liveBridge("video")]);
});

async function accepted(body: unknown, c: Client = client) {
  const response = await c.generate(body);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as {
    task_id: string;
    status: string;
    model: string;
    label: string;
    seed: number;
    ignored: string[];
  };
}

/** The D1 row of the task's one job. */
const jobRow = async (taskId: string) => jobRecord(await jobOf(taskId));

describe("POST /generate", () => {
  it("answers {task_id, status: pending} with the task and its job already written", async () => {
    const body = await accepted(IMAGE);
    expect(body).toMatchObject({ status: "pending", model: "flux", label: "flux", ignored: [] });
    const task = await taskRecord(body.task_id);
    expect(task).toMatchObject({ surface: "000", status: "pending", ownerPrincipalId: client.principalId });
    // Queued behind busy bridges, an image waits at most 10 minutes to start.
    const wait = (task.startDeadlineAt?.getTime() ?? 0) - task.createdAt.getTime();
    expect(Math.abs(wait - 600_000)).toBeLessThan(1000);
    const job = await jobRow(body.task_id);
    expect(job).toMatchObject({ jobType: "generate_image", status: "pending", inputs: {} });
    expect(job.params).toMatchObject({
      prompt: "a lighthouse",
      provider: "local",
      model: "local",
      steps: 50,
      guidance: 3.5,
      width: 256,
      height: 256,
      sampler: "euler_a",
      clip_skip: 2,
    });
  });

  it("takes a model's alias in any case, answering with the canonical id and the label sent", async () => {
    const body = await accepted({ ...VIDEO, model: "Wan-Remix" });
    expect(body).toMatchObject({ model: "phr00t", label: "Wan-Remix" });
    expect(await readStatus(client, body.task_id)).toMatchObject({ model: "phr00t", label: "Wan-Remix" });
    expect((await taskRecord(body.task_id)).request).toMatchObject({ model: "phr00t", label: "Wan-Remix" });
    const job = await jobRow(body.task_id);
    expect(job.jobType).toBe("generate_video");
    expect(job.params).toMatchObject({
      steps: 4,
      guidance: 1,
      frames: 9,
      fps: 8,
      image_strength: 1,
      last_image_strength: 1,
    });
    expect(job.params).not.toHaveProperty("lighting_variant");
    // A video waits at most 30 minutes to start.
    const task = await taskRecord(body.task_id);
    expect(Math.abs((task.startDeadlineAt?.getTime() ?? 0) - task.createdAt.getTime() - 1_800_000)).toBeLessThan(1000);
  });

  it("picks a seed for -1 (the default) and records it; a given seed is used as is", async () => {
    const picked = await accepted({ ...IMAGE, seed: -1 });
    expect(picked.seed).toBeGreaterThanOrEqual(0);
    expect(picked.seed).toBeLessThanOrEqual(2 ** 32 - 1);
    expect((await jobRow(picked.task_id)).params.seed).toBe(picked.seed);
    expect((await readStatus(client, picked.task_id)).seed).toBe(picked.seed);
    expect((await taskRecord(picked.task_id)).request).toMatchObject({ parameters: { seed: picked.seed } });
    const defaulted = await accepted(IMAGE);
    expect((await jobRow(defaulted.task_id)).params.seed).toBe(defaulted.seed);
    const given = await accepted({ ...IMAGE, seed: 12345 });
    expect(given.seed).toBe(12345);
  });

  it("carries the sampler and clip_skip to the job, and records them as sent", async () => {
    const body = await accepted({ ...IMAGE, model: "pony", sampler: "dpmpp_2m_karras", clip_skip: 4 });
    expect((await jobRow(body.task_id)).params).toMatchObject({ sampler: "dpmpp_2m_karras", clip_skip: 4 });
    expect((await taskRecord(body.task_id)).request).toMatchObject({
      parameters: { sampler: "dpmpp_2m_karras", clip_skip: 4 },
    });
  });

  it("folds cfg_scale and cfg into guidance_scale", async () => {
    const body = await accepted({ ...IMAGE, model: "pony", cfg: 5.5 });
    expect((await jobRow(body.task_id)).params.guidance).toBe(5.5);
    expect((await taskRecord(body.task_id)).request).toMatchObject({ parameters: { guidance_scale: 5.5 } });
  });

  it("lists the fields it ignored: unknown ones, and images the mode does not use (never stored)", async () => {
    const body = await accepted({ ...IMAGE, favourite: true, num_frames: 81, reference_image: dataUri(imageBytes()) });
    expect(body.ignored.sort()).toEqual(["favourite", "num_frames", "reference_image"]);
    expect((await jobRow(body.task_id)).inputs).toEqual({});
    const stored = await db().select().from(artifacts).where(eq(artifacts.ownerPrincipalId, client.principalId));
    expect(stored.filter((row) => row.kind === "input")).toEqual([]);
  });

  describe("reference images become the job's inputs, stored before dispatch", () => {
    async function inputArtifact(id: string | undefined) {
      const [row] = await db()
        .select()
        .from(artifacts)
        .where(eq(artifacts.id, id ?? ""));
      if (!row) throw new Error(`no artifact ${id}`);
      const object = await env.MEDIA.get(row.r2Key);
      return { row, bytes: new Uint8Array((await object?.arrayBuffer()) ?? new ArrayBuffer(0)) };
    }

    it("img2img: reference_image as the image input, denoising_strength as the strength", async () => {
      const bytes = imageBytes(2000);
      const body = await accepted({
        ...IMAGE,
        mode: "img2img",
        reference_image: dataUri(bytes),
        denoising_strength: 0.3,
      });
      const job = await jobRow(body.task_id);
      expect(job.params.strength).toBe(0.3);
      const stored = await inputArtifact(job.inputs.image);
      expect(stored.row).toMatchObject({
        ownerPrincipalId: client.principalId,
        contentType: "image/png",
        kind: "input",
      });
      expect(stored.bytes).toEqual(bytes);
      expect((await taskRecord(body.task_id)).request).toMatchObject({
        mode: "img2img",
        parameters: { reference_image: job.inputs.image },
        stored_inputs: [job.inputs.image],
      });
    });

    it("i2v from a JPEG data URI; first_last_frame as image and last_image; each with its strength", async () => {
      const i2v = await accepted({
        ...VIDEO,
        mode: "i2v",
        reference_image: dataUri(imageBytes(80, "image/jpeg"), "image/jpeg"),
        reference_strength: 0.4,
        lighting_variant: "  golden hour ",
      });
      const i2vJob = await jobRow(i2v.task_id);
      expect(Object.keys(i2vJob.inputs)).toEqual(["image"]);
      expect((await inputArtifact(i2vJob.inputs.image)).row.contentType).toBe("image/jpeg");
      expect(i2vJob.params).toMatchObject({
        image_strength: 0.4,
        last_image_strength: 1,
        lighting_variant: "golden hour",
      });
      // The record keeps the request's own names.
      expect((await taskRecord(i2v.task_id)).request).toMatchObject({
        parameters: { reference_strength: 0.4, lighting_variant: "golden hour" },
      });

      const [first, last] = [imageBytes(90), imageBytes(120)];
      const flf = await accepted({
        ...VIDEO,
        mode: "first_last_frame",
        first_frame_image: dataUri(first),
        last_frame_image: dataUri(last),
        first_strength: 0.2,
        last_strength: 0.7,
      });
      const job = await jobRow(flf.task_id);
      expect((await inputArtifact(job.inputs.image)).bytes).toEqual(first);
      expect((await inputArtifact(job.inputs.last_image)).bytes).toEqual(last);
      expect(job.params).toMatchObject({ image_strength: 0.2, last_image_strength: 0.7 });
      expect((await taskRecord(flf.task_id)).request).toMatchObject({
        parameters: { first_strength: 0.2, last_strength: 0.7 },
      });
    });

    it("arbitrary_frame (anisora): one input per keyframe, pinned at its index", async () => {
      const body = await accepted({
        ...VIDEO,
        model: "anisora",
        mode: "arbitrary_frame",
        num_frames: 17,
        arbitrary_frames: [
          { frame_index: 0, image: dataUri(imageBytes(70)) },
          { frame_index: 12, image: dataUri(imageBytes(71)), strength: 0.5 },
        ],
      });
      const job = await jobRow(body.task_id);
      expect(Object.keys(job.inputs).sort()).toEqual(["frame_0", "frame_12"]);
      expect(job.params.keyframes).toEqual([
        { input: "frame_0", index: 0, strength: 1 },
        { input: "frame_12", index: 12, strength: 0.5 },
      ]);
      expect(job.params.steps).toBe(8);
      expect((await taskRecord(body.task_id)).request).toMatchObject({
        parameters: {
          arbitrary_frames: [
            { frame_index: 0, strength: 1, image: job.inputs.frame_0 },
            { frame_index: 12, strength: 0.5, image: job.inputs.frame_12 },
          ],
        },
      });
    });

    it("an upload of the caller's, by artifact id, is used as it is (not copied)", async () => {
      const uploader = await makeUploader();
      const upload = await uploader.upload(imageBytes(500), "image/png");
      const mine = await makeClient(uploader);
      const body = await accepted({ ...VIDEO, mode: "i2v", reference_image: upload.artifact_id }, mine);
      expect((await jobRow(body.task_id)).inputs).toEqual({ image: upload.artifact_id });
      expect((await taskRecord(body.task_id)).request).toMatchObject({ stored_inputs: [] });
    });
  });

  it("routes a model to the provider GENERATION_PROVIDERS names (local by default)", () => {
    const config = configFrom({
      ...env,
      GENERATION_PROVIDERS: '{"flux":"replicate","anisora":{"provider":"comfyui","model":"anisora-v2"}}',
    } as Env);
    expect(providerRoute(config, "flux")).toEqual({ provider: "replicate", model: "local" });
    expect(providerRoute(config, "anisora")).toEqual({ provider: "comfyui", model: "anisora-v2" });
    expect(providerRoute(config, "pony")).toEqual({ provider: "local", model: "local" });
    expect(() => configFrom({ ...env, GENERATION_PROVIDERS: '{"sdxl":"local"}' } as Env)).toThrow();
    expect(() => configFrom({ ...env, GENERATION_PROVIDERS: '{"flux":"Not A Name"}' } as Env)).toThrow();
  });

  describe("Idempotency-Key", () => {
    it("replays the first answer for the same key and body: one task, not two", async () => {
      // A caller of its own, so every task it owns is one these two calls made.
      const caller = await makeClient();
      const key = crypto.randomUUID();
      const first = await caller.generate({ ...IMAGE, seed: -1 }, { "idempotency-key": key });
      expect(first.status).toBe(200);
      const again = await caller.generate({ ...IMAGE, seed: -1 }, { "idempotency-key": key });
      expect(again.status).toBe(200);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      const [a, b] = [await first.json(), await again.json()];
      expect(b).toEqual(a);
      const owned = await db().select().from(tasks).where(eq(tasks.ownerPrincipalId, caller.principalId));
      expect(owned.map((task) => task.id)).toEqual([(a as { task_id: string }).task_id]);
    });

    it("refuses the same key with another body", async () => {
      const key = crypto.randomUUID();
      expect((await client.generate(IMAGE, { "idempotency-key": key })).status).toBe(200);
      await expect000(
        await client.generate({ ...IMAGE, prompt: "another" }, { "idempotency-key": key }),
        409,
        "idempotency_conflict",
      );
    });
  });

  describe("a guest session's quotas", () => {
    const asGuest = (cookie: string, body: unknown = IMAGE) =>
      call("/generate", { cookies: { [COOKIES.guestSession]: cookie }, json: body });

    it("refuses a third concurrent generation, 429 active_task_limit_exceeded", async () => {
      const guest = await makeGuestSession();
      expect((await asGuest(guest.secret)).status).toBe(200);
      expect((await asGuest(guest.secret)).status).toBe(200);
      await expect000(await asGuest(guest.secret), 429, "active_task_limit_exceeded");
    });

    it("refuses past the daily count even when nothing runs, 429 daily_task_limit_exceeded", async () => {
      const guest = await makeGuestSession();
      const first = (await (await asGuest(guest.secret)).json()) as { task_id: string };
      await db().update(tasks).set({ status: "done" }).where(eq(tasks.ownerPrincipalId, guest.guestId));
      await updatePrincipal(guest.guestId, { quotaDaily: 1 });
      await expect000(await asGuest(guest.secret), 429, "daily_task_limit_exceeded");
      expect(first.task_id).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("does not limit an API-key user", async () => {
      const user = await makeClient();
      for (let i = 0; i < 3; i++) await started(user);
    });
  });
});
