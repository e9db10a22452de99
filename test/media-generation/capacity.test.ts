/**
 * 503 no_ready_accounts: with no live bridge able to run a model, POST
 * /generate refuses before storing or writing anything, and says what to do.
 * This file registers no bridge before its first test (each file has its own
 * storage), so its boards have heard from no agent.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { artifacts, tasks } from "../../worker/db/schema";
import { db } from "../helpers/fixtures";
import { dataUri, IMAGE, imageBytes, liveBridge, makeClient, VIDEO } from "../helpers/generation";
import { expect000 } from "../helpers/http";

describe("no capacity", () => {
  it("answers 503 no_ready_accounts with a user_action, having stored and written nothing", async () => {
    const client = await makeClient();
    const response = await client.generate({ ...VIDEO, mode: "i2v", reference_image: dataUri(imageBytes()) });
    const body = await expect000(response, 503, "no_ready_accounts");
    expect(body.user_action).toMatch(/No GPU capacity can make videos.*admin/);
    expect(body.metadata).toMatchObject({ model: "phr00t", type: "video" });
    expect(await db().select().from(tasks).where(eq(tasks.ownerPrincipalId, client.principalId))).toEqual([]);
    expect(await db().select().from(artifacts).where(eq(artifacts.ownerPrincipalId, client.principalId))).toEqual([]);
  });

  it("counts only bridges able to run the model's type: an image bridge does not make videos", async () => {
    const client = await makeClient();
    await liveBridge("image");
    expect((await client.generate(IMAGE)).status).toBe(200);
    await expect000(await client.generate(VIDEO), 503, "no_ready_accounts");
    await liveBridge("video");
    expect((await client.generate(VIDEO)).status).toBe(200);
  });
});
