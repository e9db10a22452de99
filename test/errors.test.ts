/**
 * Each surface renders errors in its own contract shape, from one ApiError.
 * Routes that exist answer their real errors; a probe route added to the real
 * app (buildApp) throws an unexpected exception to pin the generic 500.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildApp } from "../worker/app";
import { ApiError } from "../worker/errors/api-error";
import { renderError } from "../worker/errors/render";
import { makeAdminSession } from "./helpers/fixtures";

const url = (path: string) => `https://edge.test${path}`;

describe("error renderers", () => {
  it("000 answers {code, detail, user_action} with the original's lowercase code", async () => {
    const response = await SELF.fetch(url("/auth/session"));
    expect(response.status).toBe(401);
    const body = await response.json();
    expect(body).toEqual({
      code: "generation_session_missing",
      detail: expect.any(String),
      user_action: expect.stringContaining("POST /auth/session"),
    });
  });

  it("000 validation errors are 422 validation_error with field-level metadata", async () => {
    const session = await makeAdminSession();
    const response = await SELF.fetch(
      new Request(url("/admin/agents"), {
        method: "POST",
        body: JSON.stringify({ name: "x", scopes: ["assets:write"] }),
        headers: { "content-type": "application/json", cookie: `gg_admin_session=${session.secret}` },
      }),
    );
    expect(response.status).toBe(422);
    const body = (await response.json()) as { metadata: { errors: { field: string }[] } };
    expect(body).toMatchObject({
      code: "validation_error",
      detail: "Request validation failed",
      user_action: expect.any(String),
    });
    expect(body.metadata.errors.map((error) => error.field)).toEqual(expect.arrayContaining(["name", "scopes.0"]));
  });

  it("001, 002 and 004 answer {detail} — a list for validation errors", async () => {
    const missing = await SELF.fetch(url("/api/auth/me"));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ detail: "Not authenticated" });

    const invalid = await SELF.fetch(
      new Request(url("/api/register"), {
        method: "POST",
        body: JSON.stringify({ username: "ab", password: "" }),
        headers: { "content-type": "application/json", "cf-connecting-ip": "198.51.100.10" },
      }),
    );
    expect(invalid.status).toBe(422);
    const body = (await invalid.json()) as { detail: { loc: unknown[]; msg: string; type: string }[] };
    expect(body.detail.map((issue) => issue.loc)).toEqual(
      expect.arrayContaining([
        ["body", "username"],
        ["body", "password"],
      ]),
    );

    const extract = await SELF.fetch(url("/api/v1/health?detailed=true"));
    expect(extract.status).toBe(401);
    expect(await extract.json()).toEqual({ detail: "Unauthorized" });
  });

  it("003 answers {code, message, retryable, correlation_id} and echoes X-Correlation-Id", async () => {
    const response = await SELF.fetch(url("/api/v1/actor"));
    expect(response.status).toBe(401);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      code: "UNAUTHORIZED",
      message: expect.any(String),
      retryable: false,
      correlation_id: response.headers.get("x-correlation-id"),
    });
    expect(response.headers.get("x-request-id")).toBe(body.correlation_id);
  });

  it("003's normative codes map from internal codes", async () => {
    const cases: [ApiError, number, string, boolean][] = [
      [new ApiError("state_conflict", "x"), 409, "STATE_CONFLICT", false],
      [new ApiError("lock_required", "x"), 423, "LOCK_REQUIRED", false],
      [new ApiError("lock_invalid", "x"), 423, "LOCK_INVALID", false],
      [new ApiError("purged", "x"), 410, "PURGED", false],
      [new ApiError("validation_failed", "x"), 422, "VALIDATION_FAILED", false],
      [new ApiError("rate_limited", "x", { retryAfterSeconds: 3 }), 429, "RATE_LIMITED", true],
      [new ApiError("admin_rate_limited", "x"), 429, "RATE_LIMITED", true],
      [new ApiError("temporarily_unavailable", "x"), 503, "TEMPORARY_UNAVAILABLE", true],
      [new ApiError("forbidden_scope", "x"), 403, "FORBIDDEN_SCOPE", false],
      [new ApiError("forbidden_actor", "x"), 403, "FORBIDDEN_ACTOR", false],
    ];
    for (const [error, status, code, retryable] of cases) {
      const response = renderError(error, "003", "corr-1");
      expect(response.status).toBe(status);
      expect(await response.json()).toMatchObject({ code, retryable, correlation_id: "corr-1" });
    }
  });

  it("an unplaced caller on a shared path gets both shapes in one body", async () => {
    const response = await SELF.fetch(url("/api/v1/jobs"));
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      detail: expect.any(String),
      code: expect.any(String),
      message: expect.any(String),
      retryable: false,
      correlation_id: response.headers.get("x-correlation-id"),
    });
  });

  it("unknown routes are 404 in the path's contract shape", async () => {
    const root = await SELF.fetch(url("/no-such-thing"));
    expect(root.status).toBe(404);
    expect(await root.json()).toMatchObject({ code: "not_found", user_action: expect.any(String) });
    const story = await SELF.fetch(url("/api/task/nope/nothing"));
    expect(await story.json()).toEqual({ detail: expect.any(String) });
    const catalog = await SELF.fetch(url("/api/v1/assets-nope"));
    expect(await catalog.json()).toMatchObject({ code: "NOT_FOUND" });
  });

  it("malformed JSON is a 400 in the surface's shape, not a crash", async () => {
    const response = await SELF.fetch(
      new Request(url("/api/login"), {
        method: "POST",
        body: "{not json",
        headers: { "content-type": "application/json", "cf-connecting-ip": "198.51.100.11" },
      }),
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ detail: expect.any(String) });
  });

  it("an unexpected exception is a generic 500 in each shape; its text never reaches the client", async () => {
    const app = buildApp();
    // A probe route on the real app, registered after the surfaces: the error path is the same.
    for (const path of ["/explode", "/api/explode", "/api/v1/explode", "/api/v1/auth/explode"]) {
      app.get(path, () => {
        throw new Error("secret database password leaked in message");
      });
    }
    const shapes: Record<string, (body: Record<string, unknown>) => void> = {
      "/explode": (body) => expect(body).toMatchObject({ code: "internal_error", user_action: expect.any(String) }),
      "/api/explode": (body) => expect(body).toEqual({ detail: "Internal server error" }),
      "/api/v1/explode": (body) => expect(body).toMatchObject({ code: "INTERNAL_ERROR", retryable: false }),
      "/api/v1/auth/explode": (body) => expect(body).toEqual({ detail: "Internal server error" }),
    };
    for (const [path, check] of Object.entries(shapes)) {
      const response = await app.request(url(path), {}, env);
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(text).not.toContain("secret");
      expect(response.headers.get("x-request-id")).toBeTruthy();
      check(JSON.parse(text));
    }
  });
});
