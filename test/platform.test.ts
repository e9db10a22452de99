/**
 * Platform behaviour shared by every surface: the OpenAPI document and docs,
 * body caps, CORS, request ids and 004's health shapes.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { issueCredential } from "../worker/core/credentials";
import { createUser } from "../worker/core/principals";
import { database } from "../worker/db/client";

const url = (path: string) => `https://edge.test${path}`;

describe("OpenAPI and docs", () => {
  it("/openapi.json lists every route of every surface", async () => {
    const response = await SELF.fetch(url("/openapi.json"));
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        "GET /",
        "GET /health",
        "POST /auth/session",
        "GET /auth/session",
        "DELETE /auth/session",
        "POST /admin/session",
        "GET /admin/session",
        "DELETE /admin/session",
        "POST /admin/agents",
        "POST /api/auth/login",
        "POST /api/auth/exchange",
        "GET /api/auth/me",
        "POST /api/register",
        "POST /api/login",
        "POST /api/refresh",
        "POST /api/v1/ui/session",
        "DELETE /api/v1/ui/session",
        "GET /api/v1/actor",
        "POST /api/v1/auth/session",
        "GET /api/v1/auth/session",
        "DELETE /api/v1/auth/session",
        "GET /api/v1/health",
      ]),
    );
  });

  it("serves Swagger UI at /docs, and 002's /api/docs probe is a redirect, not a 401", async () => {
    const docs = await SELF.fetch(url("/docs"));
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("/openapi.json");
    const probe = await SELF.fetch(url("/api/docs"), { redirect: "manual" });
    expect(probe.status).toBe(302);
    expect(probe.headers.get("location")).toBe("/docs");
  });
});

describe("request body caps", () => {
  it("a body over the route's cap is a clear 413 in the surface's shape", async () => {
    const response = await SELF.fetch(
      new Request(url("/api/login"), {
        method: "POST",
        body: JSON.stringify({ username: "x", password: "y".repeat(20_000) }),
        headers: { "content-type": "application/json", "cf-connecting-ip": "198.51.100.40" },
      }),
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ detail: expect.stringContaining("exceeds") });
  });

  it("the global ceiling applies to every route, including unknown ones", async () => {
    const response = await SELF.fetch(
      new Request(url("/no-such-route"), { method: "POST", body: "x".repeat(1024 * 1024 + 1) }),
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: "payload_too_large" });
  });
});

describe("CORS", () => {
  it("allows a listed origin with credentials and refuses an unlisted preflight clearly", async () => {
    const allowed = await SELF.fetch(url("/health"), { headers: { origin: "http://localhost:5173" } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(allowed.headers.get("access-control-allow-credentials")).toBe("true");

    const refused = await SELF.fetch(url("/auth/session"), {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "cors_origin_blocked" });

    const unlisted = await SELF.fetch(url("/health"), { headers: { origin: "https://evil.example" } });
    expect(unlisted.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("004 health", () => {
  it("basic health is public: {status, ready, timestamp}", async () => {
    const response = await SELF.fetch(url("/api/v1/health"));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ status: "ok", ready: true, timestamp: expect.any(String) });
  });

  it("detailed health needs authentication", async () => {
    const response = await SELF.fetch(url("/api/v1/health?detailed=true"));
    expect(response.status).toBe(401);
  });

  it("detailed health adds readiness and security posture, never a secret", async () => {
    const db = database(env.DB);
    const user = await createUser(db, { username: `health-${crypto.randomUUID()}`, password: "correct horse battery" });
    const key = await issueCredential(db, { principalId: user.id, kind: "api_key" });
    const response = await SELF.fetch(url("/api/v1/health?detailed=true"), { headers: { "x-api-key": key.secret } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(env.JWT_SECRET);
    expect(text).not.toContain(env.EXCHANGE_SECRET);
    expect(JSON.parse(text)).toMatchObject({
      status: "ok",
      ready: true,
      readiness: { database: { ok: true }, storage: { ok: true } },
      security_policy: { auth_required: true, jwt_secret_min_length_met: true, cookies_secure: true },
    });
  });
});
