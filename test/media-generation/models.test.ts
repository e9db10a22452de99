/**
 * GET /models: the catalog, rendered from the same schemas POST /generate
 * validates with — ids, aliases, types, modes, and each model's parameters
 * as JSON Schema with their defaults and limits.
 */
import { describe, expect, it } from "vitest";
import { MODEL_IDS } from "../../worker/contracts/models";
import { liveBridge, makeClient } from "../helpers/generation";
import { call } from "../helpers/http";

interface Entry {
  id: string;
  aliases: string[];
  type: string;
  modes: string[];
  parameters: {
    properties: Record<
      string,
      { default?: unknown; minimum?: number; maximum?: number; multipleOf?: number; const?: unknown; enum?: unknown[] }
    >;
    required: string[];
  };
}

async function catalog(): Promise<Entry[]> {
  const response = await call("/models");
  expect(response.status).toBe(200);
  return ((await response.json()) as { models: Entry[] }).models;
}

describe("GET /models", () => {
  it("lists the four models with their types, modes and aliases, without credentials", async () => {
    const models = await catalog();
    expect(models.map((model) => model.id)).toEqual(MODEL_IDS);
    expect(models.map(({ id, type, modes, aliases }) => ({ id, type, modes, aliases }))).toEqual([
      { id: "anisora", type: "video", modes: ["t2v", "i2v", "first_last_frame", "arbitrary_frame"], aliases: [] },
      { id: "phr00t", type: "video", modes: ["t2v", "i2v", "first_last_frame"], aliases: ["wan-remix"] },
      { id: "pony", type: "image", modes: ["txt2img", "img2img"], aliases: [] },
      { id: "flux", type: "image", modes: ["txt2img", "img2img"], aliases: [] },
    ]);
  });

  it("gives each model's parameters with defaults and limits", async () => {
    const [anisora, phr00t, pony, flux] = await catalog();
    expect(anisora?.parameters.properties.width).toMatchObject({
      default: 720,
      minimum: 256,
      maximum: 2048,
      multipleOf: 16,
    });
    expect(anisora?.parameters.properties.steps).toMatchObject({ const: 8, default: 8 });
    expect(anisora?.parameters.properties.num_frames).toMatchObject({ default: 81, minimum: 5, maximum: 241 });
    expect(anisora?.parameters.properties.arbitrary_frames).toBeDefined();
    expect(phr00t?.parameters.properties.steps).toMatchObject({ const: 4 });
    expect(phr00t?.parameters.properties.guidance_scale).toMatchObject({ const: 1 });
    expect(phr00t?.parameters.properties.arbitrary_frames).toBeUndefined();
    expect(pony?.parameters.properties.steps).toMatchObject({ default: 30, minimum: 1, maximum: 100 });
    expect(flux?.parameters.properties.guidance_scale).toMatchObject({ default: 3.5, maximum: 10 });
    expect(flux?.parameters.properties.seed).toMatchObject({ default: -1, minimum: -1 });
    for (const model of [anisora, phr00t, pony, flux]) expect(model?.parameters.required).toEqual(["prompt"]);
  });

  it("describes what /generate accepts: each model with only its required fields and a mode is valid", async () => {
    const client = await makeClient();
    await Promise.all([liveBridge("image"), liveBridge("video")]);
    for (const model of await catalog()) {
      const response = await client.generate({ model: model.id, type: model.type, mode: model.modes[0], prompt: "p" });
      expect(response.status, await response.clone().text()).toBe(200);
    }
  });
});
