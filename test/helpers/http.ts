/**
 * Request builders, Set-Cookie parsing and one assertion per contract error
 * shape, shared by the auth tests. Every request carries its own
 * CF-Connecting-IP so per-address rate limits never couple two tests.
 */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";

export const HTTPS = "https://edge.test";
export const HTTP = "http://edge.test";

/** A fresh client address (10.0.0.0/8) per call site, so IP budgets stay independent. */
export function uniqueIp(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c}`;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
  bearer?: string;
  json?: unknown;
  form?: Record<string, string>;
  /** A raw body, sent as is (set its content-type in headers). */
  body?: BodyInit;
  ip?: string;
  /** Defaults to https. */
  scheme?: "https" | "http";
}

export function buildRequest(path: string, options: CallOptions = {}): Request {
  const headers = new Headers(options.headers);
  headers.set("cf-connecting-ip", options.ip ?? uniqueIp());
  if (options.bearer !== undefined) headers.set("authorization", `Bearer ${options.bearer}`);
  if (options.cookies) {
    headers.set(
      "cookie",
      Object.entries(options.cookies)
        .map(([name, value]) => `${name}=${value}`)
        .join("; "),
    );
  }
  let body: BodyInit | undefined = options.body;
  if (options.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers.set("content-type", "application/x-www-form-urlencoded");
    body = new URLSearchParams(options.form).toString();
  }
  const origin = options.scheme === "http" ? HTTP : HTTPS;
  return new Request(`${origin}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body });
}

/** Calls the deployed Worker (the real entry point) through SELF. */
export function call(path: string, options: CallOptions = {}): Promise<Response> {
  return SELF.fetch(buildRequest(path, options));
}

export interface ParsedCookie {
  name: string;
  value: string;
  /** Attribute names lower-cased; flags map to true. */
  attributes: Record<string, string | true>;
}

export function setCookies(response: Response): ParsedCookie[] {
  return response.headers.getSetCookie().map((line) => {
    const [pair = "", ...rest] = line.split(";").map((part) => part.trim());
    const eq = pair.indexOf("=");
    const attributes: Record<string, string | true> = {};
    for (const attribute of rest) {
      const at = attribute.indexOf("=");
      if (at === -1) attributes[attribute.toLowerCase()] = true;
      else attributes[attribute.slice(0, at).toLowerCase()] = attribute.slice(at + 1);
    }
    return { name: pair.slice(0, eq), value: decodeURIComponent(pair.slice(eq + 1)), attributes };
  });
}

export function cookieNamed(response: Response, name: string): ParsedCookie {
  const found = setCookies(response).find((cookie) => cookie.name === name);
  if (!found) throw new Error(`no Set-Cookie for ${name}; got ${response.headers.getSetCookie().join(" | ")}`);
  return found;
}

/** HttpOnly always, SameSite and Path as given, Secure exactly when the request was https. */
export function expectCookieFlags(
  cookie: ParsedCookie,
  expected: { sameSite: "Strict" | "Lax"; path: string; secure: boolean; maxAge?: number },
): void {
  expect(cookie.attributes.httponly).toBe(true);
  expect(cookie.attributes.samesite).toBe(expected.sameSite);
  expect(cookie.attributes.path).toBe(expected.path);
  expect(cookie.attributes.secure ?? false).toBe(expected.secure);
  if (expected.maxAge !== undefined) expect(cookie.attributes["max-age"]).toBe(String(expected.maxAge));
}

/** A Set-Cookie that tells the browser to drop the cookie now. */
export function expectCleared(response: Response, name: string, path = "/"): void {
  const cookie = cookieNamed(response, name);
  expect(cookie.value).toBe("");
  expect(cookie.attributes["max-age"]).toBe("0");
  expect(cookie.attributes.path).toBe(path);
}

type Json = Record<string, unknown>;

/** Contract 000: exactly {code, detail, user_action} (+ optional metadata). */
export async function expect000(response: Response, status: number, code: string): Promise<Json> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as Json;
  expect(body).toMatchObject({ code, detail: expect.any(String), user_action: expect.any(String) });
  expect(Object.keys(body).filter((key) => key !== "metadata")).toEqual(["code", "detail", "user_action"]);
  expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  return body;
}

/** Contracts 001, 002, 004: exactly {detail}; a string unless `detail` is "list". */
export async function expectDetail(response: Response, status: number, detail?: string | "list"): Promise<Json> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as Json;
  expect(Object.keys(body)).toEqual(["detail"]);
  if (detail === "list") {
    expect(Array.isArray(body.detail)).toBe(true);
    for (const issue of body.detail as unknown[]) {
      expect(issue).toEqual({ loc: expect.any(Array), msg: expect.any(String), type: expect.any(String) });
    }
  } else if (detail !== undefined) {
    expect(body.detail).toBe(detail);
  } else {
    expect(typeof body.detail).toBe("string");
  }
  return body;
}

/** The `loc`s of a FastAPI-style validation list. */
export function locations(body: Json): unknown[] {
  return (body.detail as { loc: unknown[] }[]).map((issue) => issue.loc);
}

/** Contract 003: {code, message, details?, retryable, correlation_id}, correlation id in both headers. */
export async function expect003(response: Response, status: number, code: string): Promise<Json> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as Json;
  expect(body).toMatchObject({ code, message: expect.any(String), retryable: false });
  for (const key of Object.keys(body)) {
    expect(["code", "message", "details", "retryable", "correlation_id"]).toContain(key);
  }
  expect(body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(response.headers.get("x-correlation-id")).toBe(body.correlation_id);
  expect(response.headers.get("x-request-id")).toBe(body.correlation_id);
  return body;
}
