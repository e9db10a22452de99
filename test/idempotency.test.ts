/**
 * The Idempotency-Key middleware. No production route uses it yet (later
 * issues attach it to their create/mutate routes), so these tests mount it on
 * a probe route of the real app, behind a real API-key authentication.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../worker/app";
import { authenticateGeneration } from "../worker/auth/media-generation";
import { issueCredential } from "../worker/core/credentials";
import { createUser } from "../worker/core/principals";
import { database } from "../worker/db/client";
import { idempotent } from "../worker/http/idempotency";

let apiKey = "";
let runs = 0;
let gate: Promise<void> = Promise.resolve();

const app = buildApp();
app.post("/probe/things", authenticateGeneration(), idempotent(), async (c) => {
  runs++;
  await gate;
  const body = await c.req.json<{ name: string }>();
  if (body.name === "crash") throw new Error("boom");
  return c.json({ created: body.name, run: runs }, 201);
});

const send = (key: string | undefined, body: unknown) =>
  app.request(
    "https://edge.test/probe/things",
    {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json", "x-api-key": apiKey, ...(key ? { "idempotency-key": key } : {}) },
    },
    env,
  );

beforeAll(async () => {
  const db = database(env.DB);
  const user = await createUser(db, { username: `idem-${crypto.randomUUID()}`, password: "correct horse battery" });
  apiKey = (await issueCredential(db, { principalId: user.id, kind: "api_key" })).secret;
});

describe("Idempotency-Key", () => {
  it("replays the stored response for the same key and body, and runs the work once", async () => {
    const key = crypto.randomUUID();
    const before = runs;
    const first = await send(key, { name: "a" });
    const replay = await send(key, { name: "a" });
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(await replay.json()).toEqual(await first.json());
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(runs - before).toBe(1);
  });

  it("refuses the same key with a different body: 409 idempotency_conflict", async () => {
    const key = crypto.randomUUID();
    await send(key, { name: "a" });
    const conflict = await send(key, { name: "b" });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ code: "idempotency_conflict" });
  });

  it("answers a duplicate that arrives while the first runs with 409 and a retry hint", async () => {
    const key = crypto.randomUUID();
    let open = () => {};
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const before = runs;
    const first = send(key, { name: "slow" });
    // The first request holds the reservation until the gate opens.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const duplicate = await send(key, { name: "slow" });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers.get("retry-after")).toBe("1");
    expect(await duplicate.json()).toMatchObject({ code: "idempotency_in_progress" });
    open();
    expect((await first).status).toBe(201);
    gate = Promise.resolve();
    const after = await send(key, { name: "slow" });
    expect(after.headers.get("idempotent-replayed")).toBe("true");
    expect(runs - before).toBe(1);
  });

  it("frees the key after a server error so the client can retry", async () => {
    const key = crypto.randomUUID();
    const crashed = await send(key, { name: "crash" });
    expect(crashed.status).toBe(500);
    const retried = await send(key, { name: "crash" });
    expect(retried.status).toBe(500);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  });

  it("a record past its TTL no longer binds the key", async () => {
    const key = crypto.randomUUID();
    await send(key, { name: "a" });
    await env.DB.prepare("UPDATE idempotency_records SET expires_at = 0 WHERE key = ?").bind(key).run();
    const fresh = await send(key, { name: "b" });
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get("idempotent-replayed")).toBeNull();
  });

  it("a reservation abandoned by a request that died stops binding the key after five minutes", async () => {
    const key = crypto.randomUUID();
    await send(key, { name: "a" });
    await env.DB.prepare("UPDATE idempotency_records SET state = 'running', created_at = 0 WHERE key = ?")
      .bind(key)
      .run();
    const retried = await send(key, { name: "a" });
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  });

  it("rejects a malformed key", async () => {
    const response = await send("bad key with spaces", { name: "a" });
    expect(response.status).toBe(400);
  });

  it("without a key the request simply runs", async () => {
    const before = runs;
    await send(undefined, { name: "a" });
    await send(undefined, { name: "a" });
    expect(runs - before).toBe(2);
  });
});
