/**
 * POST /generate's validation: every catalog rule answers 422 validation_error
 * with the offending fields in metadata.errors (all of a stage's at once),
 * before anything is stored or dispatched.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { REFERENCE_IMAGE_MAX_BYTES } from "../../worker/contracts/models";
import { GENERATE_BODY_BYTES } from "../../worker/surfaces/media-generation/generate";
import { type Client, dataUri, IMAGE, imageBytes, liveBridge, makeClient, VIDEO } from "../helpers/generation";
import { expect000 } from "../helpers/http";
import { makeUploader } from "../helpers/uploads";

let client: Client;
const png = dataUri(imageBytes());
const ANISORA = { ...VIDEO, model: "anisora" };

beforeAll(async () => {
  client = await makeClient();
  await Promise.all([liveBridge("image"), liveBridge("video")]);
});

/** Expects a 422 whose errors name exactly these fields (in any order, each at least once). */
async function rejected(body: unknown, fields: string[]): Promise<{ field: string; message: string }[]> {
  const response = await client.generate(body);
  const error = await expect000(response, 422, "validation_error");
  const errors = (error.metadata as { errors: { field: string; message: string }[] }).errors;
  expect([...new Set(errors.map((e) => e.field))].sort(), JSON.stringify(errors)).toEqual([...fields].sort());
  return errors;
}

const without = (body: Record<string, unknown>, key: string) => {
  const copy = { ...body };
  delete copy[key];
  return copy;
};

describe("POST /generate validation", () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ["no model", without(IMAGE, "model"), ["model"]],
    ["an unknown model", { ...IMAGE, model: "sdxl" }, ["model"]],
    ["no type", without(IMAGE, "type"), ["type"]],
    ["a type the model does not make", { ...IMAGE, type: "video" }, ["type"]],
    ["an unknown type", { ...IMAGE, type: "audio" }, ["type"]],
    ["no mode", without(IMAGE, "mode"), ["mode"]],
    ["a video mode for an image model", { ...IMAGE, mode: "t2v" }, ["mode"]],
    ["arbitrary_frame on a model without it", { ...VIDEO, mode: "arbitrary_frame" }, ["mode"]],
    ["no prompt", without(IMAGE, "prompt"), ["prompt"]],
    ["a blank prompt", { ...IMAGE, prompt: "   " }, ["prompt"]],
    ["a prompt over 2000 characters", { ...IMAGE, prompt: "x".repeat(2001) }, ["prompt"]],
    ["a negative prompt over 1000 characters", { ...IMAGE, negative_prompt: "x".repeat(1001) }, ["negative_prompt"]],
    ["a width under 256", { ...IMAGE, width: 240 }, ["width"]],
    ["a height over 2048", { ...IMAGE, height: 2064 }, ["height"]],
    ["a size not a multiple of 16", { ...IMAGE, width: 264, height: 300 }, ["width", "height"]],
    ["a fractional size", { ...IMAGE, width: 256.5 }, ["width"]],
    ["a seed under -1", { ...IMAGE, seed: -2 }, ["seed"]],
    ["a seed over 2^32-1", { ...IMAGE, seed: 2 ** 32 }, ["seed"]],
    ["a fractional seed", { ...IMAGE, seed: 1.5 }, ["seed"]],
    ["num_frames not 4k+1", { ...VIDEO, num_frames: 80 }, ["num_frames"]],
    ["num_frames over 241", { ...VIDEO, num_frames: 245 }, ["num_frames"]],
    ["num_frames under 5", { ...VIDEO, num_frames: 1 }, ["num_frames"]],
    ["fps out of range", { ...VIDEO, fps: 61 }, ["fps"]],
    ["anisora at other than 8 steps", { ...ANISORA, steps: 30 }, ["steps"]],
    ["phr00t at other than 4 steps", { ...VIDEO, steps: 8 }, ["steps"]],
    ["phr00t at a guidance other than 1.0", { ...VIDEO, guidance_scale: 7 }, ["guidance_scale"]],
    ["pony over 100 steps", { ...IMAGE, model: "pony", steps: 101 }, ["steps"]],
    ["flux guidance over 10", { ...IMAGE, guidance_scale: 12 }, ["guidance_scale"]],
    ["an output format this server does not make", { ...VIDEO, output_format: "webm" }, ["output_format"]],
    ["an unknown sampler", { ...IMAGE, sampler: "heun++" }, ["sampler"]],
    ["clip_skip out of range", { ...IMAGE, clip_skip: 0 }, ["clip_skip"]],
    [
      "denoising_strength over 1",
      { ...IMAGE, mode: "img2img", reference_image: png, denoising_strength: 1.5 },
      ["denoising_strength"],
    ],
    ["a wrong type of field", { ...IMAGE, width: "512" }, ["width"]],
  ];
  it.each(cases)("refuses %s", async (_name, body, fields) => {
    await rejected(body, fields);
  });

  it("reports every problem of a request at once", async () => {
    await rejected({ ...IMAGE, prompt: "", width: 100, seed: -5, steps: 0 }, ["prompt", "width", "seed", "steps"]);
    await rejected({ model: "nope", type: "x", mode: "y", prompt: "p" }, ["model", "type", "mode"]);
  });

  it("reports an alias's problems under the alias, and refuses an alias that contradicts guidance_scale", async () => {
    const errors = await rejected({ ...VIDEO, cfg: 3 }, ["cfg"]);
    expect(errors[0]?.message).toMatch(/expected 1/);
    await rejected({ ...IMAGE, guidance_scale: 3, cfg_scale: 4 }, ["cfg_scale"]);
  });

  describe("images each mode needs", () => {
    it.each([
      ["i2v", { ...VIDEO, mode: "i2v" }, ["reference_image"]],
      ["img2img", { ...IMAGE, mode: "img2img" }, ["reference_image"]],
      ["first_last_frame", { ...VIDEO, mode: "first_last_frame", first_frame_image: png }, ["last_frame_image"]],
      ["arbitrary_frame", { ...ANISORA, mode: "arbitrary_frame" }, ["arbitrary_frames"]],
    ])("%s without its images is refused", async (_mode, body, fields) => {
      await rejected(body, fields);
    });

    it("refuses keyframes outside the clip, repeated, or past index 160", async () => {
      const frames = (indexes: number[]) => indexes.map((frame_index) => ({ frame_index, image: png }));
      const body = { ...ANISORA, mode: "arbitrary_frame", num_frames: 9 };
      await rejected({ ...body, arbitrary_frames: frames([0, 9]) }, ["arbitrary_frames.1.frame_index"]);
      await rejected({ ...body, arbitrary_frames: frames([3, 3]) }, ["arbitrary_frames.1.frame_index"]);
      await rejected({ ...body, num_frames: 241, arbitrary_frames: frames([161]) }, ["arbitrary_frames.0.frame_index"]);
      await rejected({ ...body, arbitrary_frames: frames([0, 1, 2, 3, 4, 5, 6, 7, 8]) }, ["arbitrary_frames"]);
    });
  });

  describe("reference images", () => {
    const i2v = (reference_image: string) => ({ ...VIDEO, mode: "i2v", reference_image });

    it.each([
      ["not a data URI nor an artifact id", "https://example.com/a.png"],
      ["an image type not accepted", dataUri(imageBytes(), "image/gif")],
      ["invalid base64", "data:image/png;base64,@@@@"],
      ["empty data", "data:image/png;base64,"],
    ])("refuses %s", async (_name, value) => {
      await rejected(i2v(value), ["reference_image"]);
    });

    it("refuses bytes that are not the image type the data URI claims", async () => {
      const errors = await rejected(i2v(dataUri(imageBytes(64, "image/jpeg"), "image/png")), ["reference_image"]);
      expect(errors[0]?.message).toMatch(/not a image\/png image/);
    });

    it(`refuses an image over ${REFERENCE_IMAGE_MAX_BYTES} bytes decoded, pointing to the upload API`, async () => {
      const base64 = "A".repeat(Math.ceil(((REFERENCE_IMAGE_MAX_BYTES + 3) * 4) / 3 / 4) * 4);
      const errors = await rejected(i2v(`data:image/png;base64,${base64}`), ["reference_image"]);
      expect(errors[0]?.message).toMatch(/upload it/);
    });

    it("refuses a body over the cap with 413 before reading it", async () => {
      const response = await client.generate({ ...IMAGE, negative_prompt: "x".repeat(GENERATE_BODY_BYTES) });
      await expect000(response, 413, "payload_too_large");
    });

    it("refuses an artifact id that is not the caller's upload, or not an image", async () => {
      const other = await makeUploader();
      const theirs = await other.upload(imageBytes(), "image/png");
      await rejected(i2v(theirs.artifact_id), ["reference_image"]);
      await rejected(i2v(crypto.randomUUID()), ["reference_image"]);
      const uploader = await makeUploader();
      const clip = await uploader.upload(new Uint8Array(100), "video/mp4");
      const answer = await (await makeClient(uploader)).generate(i2v(clip.artifact_id));
      const body = await expect000(answer, 422, "validation_error");
      expect(JSON.stringify(body.metadata)).toMatch(/video\/mp4, not an image/);
    });
  });
});
