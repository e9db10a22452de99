/**
 * Contract 000's credentials on the generation routes — X-API-Key, then the
 * api_key query, then the gg_session cookie; a bad key is 403 invalid_api_key
 * (the cookie is then not consulted); none is 401 — and privacy: someone
 * else's task is a 404 on every route, exactly like a missing one.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { COOKIES } from "../../worker/http/cookies";
import { makeGuestSession } from "../helpers/fixtures";
import { type Client, doneImage, IMAGE, liveBridge, makeClient } from "../helpers/generation";
import { call, expect000 } from "../helpers/http";
import type { Bridge } from "../helpers/jobs";

let owner: Client;
let bridge: Bridge;
let taskId: string;

beforeAll(async () => {
  owner = await makeClient();
  bridge = await liveBridge("image");
  ({ taskId } = await doneImage(owner, bridge));
});

describe("credential precedence", () => {
  it("takes X-API-Key, the api_key query (for media elements) or the gg_session cookie", async () => {
    expect((await call(`/status/${taskId}`, { headers: { "x-api-key": owner.key } })).status).toBe(200);
    expect((await call(`/status/${taskId}?api_key=${owner.key}`)).status).toBe(200);
    const media = await call(`/results/${taskId}?api_key=${owner.key}`);
    expect(media.status).toBe(200);
    expect(media.headers.get("content-type")).toBe("image/png");
    await media.arrayBuffer();

    const guest = await makeGuestSession();
    const cookies = { [COOKIES.guestSession]: guest.secret };
    const generated = await call("/generate", { cookies, json: IMAGE });
    expect(generated.status, await generated.clone().text()).toBe(200);
    const { task_id } = (await generated.json()) as { task_id: string };
    expect((await call(`/status/${task_id}`, { cookies })).status).toBe(200);
    expect((await call("/gallery", { cookies })).status).toBe(200);
  });

  it("answers a bad key with 403 invalid_api_key, never falling back to the cookie", async () => {
    const guest = await makeGuestSession();
    const cookies = { [COOKIES.guestSession]: guest.secret };
    await expect000(
      await call("/generate", { headers: { "x-api-key": "mek_bad" }, cookies, json: IMAGE }),
      403,
      "invalid_api_key",
    );
    await expect000(await call("/gallery?api_key=mek_bad", { cookies }), 403, "invalid_api_key");
    // The header is read first: a valid header wins over a bad query, a bad header loses to nothing.
    expect((await call(`/status/${taskId}?api_key=mek_bad`, { headers: { "x-api-key": owner.key } })).status).toBe(200);
    await expect000(
      await call(`/status/${taskId}?api_key=${owner.key}`, { headers: { "x-api-key": "mek_bad" } }),
      403,
      "invalid_api_key",
    );
  });

  it.each([
    ["POST", "/generate"],
    ["GET", "/status/x"],
    ["GET", "/results/x"],
    ["GET", "/preview/x"],
    ["GET", "/gallery"],
    ["DELETE", "/gallery/x"],
  ])("answers %s %s without any credential with 401", async (method, path) => {
    const response = await call(path, { method, ...(method === "POST" ? { json: IMAGE } : {}) });
    await expect000(response, 401, "generation_session_missing");
  });
});

describe("another caller's task", () => {
  it("is a 404 task_not_found on status, events, results, preview and delete, and absent from their gallery", async () => {
    const stranger = await makeClient();
    for (const path of [`/status/${taskId}`, `/status/${taskId}/events`, `/results/${taskId}`, `/preview/${taskId}`]) {
      await expect000(await stranger.get(path), 404, "task_not_found");
    }
    await expect000(await stranger.delete(`/gallery/${taskId}`), 404, "task_not_found");
    const gallery = await stranger.get("/gallery");
    expect(await gallery.json()).toEqual([]);
    // Unharmed for its owner.
    expect((await owner.get(`/status/${taskId}`)).status).toBe(200);
    // A missing one reads the same.
    await expect000(await stranger.get(`/status/${crypto.randomUUID()}`), 404, "task_not_found");
  });
});
