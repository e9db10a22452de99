import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

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
