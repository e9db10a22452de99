import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildApp } from "../worker/app";

describe("GET /health and GET /", () => {
  it("answers one object satisfying contracts 000 and 001, with real checks", async () => {
    for (const path of ["/health", "/"]) {
      const response = await SELF.fetch(`https://edge.test${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      const body = await response.json();
      expect(body).toMatchObject({
        ok: true,
        status: "healthy",
        service: "Media Edge",
        database: "connected",
        services: { orchestrator: "ready", websocket: "unavailable" },
      });
    }
  });
});

describe("health when a dependency fails", () => {
  it("answers 503 with the same shapes, naming what failed", async () => {
    const brokenDb = {
      prepare: () => {
        throw new Error("D1 is down");
      },
    } as unknown as D1Database;
    const degraded = { ...env, DB: brokenDb } as Env;
    const app = buildApp();

    const root = await app.request("https://edge.test/health", {}, degraded);
    expect(root.status).toBe(503);
    expect(await root.json()).toMatchObject({ ok: false, status: "degraded", database: "error", storage: "connected" });

    const extract = await app.request("https://edge.test/api/v1/health", {}, degraded);
    expect(extract.status).toBe(503);
    expect(await extract.json()).toMatchObject({ status: "degraded", ready: false });
  });
});
