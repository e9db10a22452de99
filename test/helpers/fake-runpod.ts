/**
 * A fake of RunPod's REST API v1, built from its published OpenAPI document
 * (https://rest.runpod.io/v1/openapi.json, also runpod/docs
 * api-reference/openapi.json): `POST /pods` takes a PodCreateInput and answers
 * 201 with a Pod, or 400 when the input does not match the schema;
 * `DELETE /pods/{podId}` answers 204 (404 for an unknown pod); every call needs
 * `Authorization: Bearer <api key>` (401 otherwise). Errors are JSON
 * `{"error", "status"}`. A test scripts what a key's next calls meet (429 with
 * Retry-After, a 5xx, a 402) with `failNext`.
 *
 * How the Worker reaches it: RUNPOD_API_URL is https://runpod.fake/v1 in
 * vitest.config.ts, and under @cloudflare/vitest-plugin the Worker runs in the
 * test's own isolate, so replacing the isolate's fetch (vi.spyOn) for that
 * origin alone routes the Worker's real outbound calls here while every other
 * request goes out untouched. The Worker's code is the production code: no
 * test hook, no injected client.
 */
import { afterEach, beforeEach, vi } from "vitest";

export const FAKE_RUNPOD_ORIGIN = "https://runpod.fake";

export interface RecordedCall {
  method: string;
  path: string;
  apiKey: string | null;
  body: Record<string, unknown> | null;
}

export interface ScriptedAnswer {
  status: number;
  /** Sent as Retry-After (seconds). */
  retryAfter?: number;
  error?: string;
  /** RunPod's known failure: the pod is created, then the answer is a 5xx anyway. */
  createsPod?: boolean;
}

interface FakePod {
  id: string;
  apiKey: string;
  name: string;
  env: Record<string, string>;
}

/** The published enum of gpuTypeIds is long; these are enough to tell a valid one from a typo. */
const GPU_TYPES = ["NVIDIA GeForce RTX 4090", "NVIDIA A40", "NVIDIA L40S", "NVIDIA H100 80GB HBM3", "NVIDIA RTX A6000"];

/** PodCreateInput properties and a check of each; anything else is refused, so a misspelt field shows up. */
const POD_CREATE_INPUT: Record<string, (value: unknown) => boolean> = {
  name: (value) => typeof value === "string" && value.length <= 191,
  imageName: (value) => typeof value === "string" && value.length > 0,
  gpuTypeIds: (value) => Array.isArray(value) && value.every((id) => GPU_TYPES.includes(id)),
  gpuCount: (value) => Number.isInteger(value) && (value as number) >= 1,
  cloudType: (value) => value === "SECURE" || value === "COMMUNITY",
  containerDiskInGb: (value) => Number.isInteger(value) && (value as number) >= 1,
  env: (value) =>
    typeof value === "object" && value !== null && Object.values(value).every((v) => typeof v === "string"),
  dockerStartCmd: (value) => Array.isArray(value) && value.every((part) => typeof part === "string"),
};

export class FakeRunpod {
  readonly calls: RecordedCall[] = [];
  readonly pods = new Map<string, FakePod>();
  private readonly keys = new Set<string>();
  private readonly scripts = new Map<string, ScriptedAnswer[]>();

  /** A new API key the fake accepts. */
  key(): string {
    const key = `rpa_${crypto.randomUUID().replaceAll("-", "")}`;
    this.keys.add(key);
    return key;
  }

  /** The next calls made with `key` meet these answers, in order, before normal service resumes. */
  failNext(key: string, ...answers: ScriptedAnswer[]): void {
    this.scripts.set(key, [...(this.scripts.get(key) ?? []), ...answers]);
  }

  callsWith(key: string): RecordedCall[] {
    return this.calls.filter((call) => call.apiKey === key);
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const apiKey = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? null;
    const body = request.method === "POST" ? await request.json().catch(() => "unparseable") : null;
    this.calls.push({
      method: request.method,
      path: url.pathname,
      apiKey,
      body: body as Record<string, unknown> | null,
    });
    if (!apiKey || !this.keys.has(apiKey)) return error(401, "Unauthorized.");

    const scripted = this.scripts.get(apiKey)?.shift();
    if (scripted) {
      if (scripted.createsPod && request.method === "POST") this.createPod(apiKey, body as Record<string, unknown>);
      const headers = scripted.retryAfter !== undefined ? { "retry-after": String(scripted.retryAfter) } : undefined;
      return error(scripted.status, scripted.error ?? "scripted failure", headers);
    }

    if (request.method === "POST" && url.pathname === "/v1/pods") return this.create(apiKey, body);
    if (request.method === "GET" && url.pathname === "/v1/pods") {
      // ListPods: the key's pods, filtered by `name` when given.
      const name = url.searchParams.get("name");
      const pods = [...this.pods.values()].filter((pod) => pod.apiKey === apiKey && (!name || pod.name === name));
      return Response.json(
        pods.map((pod) => ({ id: pod.id, name: pod.name, desiredStatus: "RUNNING", costPerHr: 0.74, env: pod.env })),
      );
    }
    const deleting = /^\/v1\/pods\/([^/]+)$/.exec(url.pathname);
    if (request.method === "DELETE" && deleting?.[1]) {
      const pod = this.pods.get(deleting[1]);
      if (!pod || pod.apiKey !== apiKey) return error(404, "Pod not found.");
      this.pods.delete(pod.id);
      return new Response(null, { status: 204 });
    }
    return error(404, "Not found.");
  }

  private create(apiKey: string, body: unknown): Response {
    if (typeof body !== "object" || body === null || Array.isArray(body)) return error(400, "Invalid input.");
    for (const [field, value] of Object.entries(body)) {
      const valid = POD_CREATE_INPUT[field];
      if (!valid) return error(400, `Invalid input: unknown property ${field}.`);
      if (!valid(value)) return error(400, `Invalid input: ${field}.`);
    }
    if (!("imageName" in body)) return error(400, "Invalid input: imageName is required.");
    const pod = this.createPod(apiKey, body as Record<string, unknown>);
    // A Pod as the reference shows one; costPerHr is a string in its own example.
    return Response.json(
      {
        id: pod.id,
        name: pod.name,
        image: (body as { imageName: string }).imageName,
        desiredStatus: "RUNNING",
        costPerHr: "0.74",
        adjustedCostPerHr: 0.69,
        env: pod.env,
        machineId: "s194cr8pls2z",
        lastStartedAt: new Date().toISOString(),
      },
      { status: 201 },
    );
  }

  private createPod(apiKey: string, body: Record<string, unknown>): FakePod {
    const id = crypto.randomUUID().replaceAll("-", "").slice(0, 14);
    const pod: FakePod = {
      id,
      apiKey,
      name: typeof body.name === "string" ? body.name : "my pod",
      env: (body.env ?? {}) as Record<string, string>,
    };
    this.pods.set(id, pod);
    return pod;
  }
}

function error(status: number, message: string, headers?: Record<string, string>): Response {
  return Response.json({ error: message, status }, { status, headers });
}

/** A fake for each test, answering the Worker's calls to FAKE_RUNPOD_ORIGIN; other fetches pass through. */
export function useFakeRunpod(): () => FakeRunpod {
  let fake: FakeRunpod | undefined;
  beforeEach(() => {
    const current = new FakeRunpod();
    fake = current;
    const passThrough = globalThis.fetch.bind(globalThis);
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const request = new Request(input, init);
      return request.url.startsWith(`${FAKE_RUNPOD_ORIGIN}/`) ? current.handle(request) : passThrough(request);
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return () => {
    if (!fake) throw new Error("useFakeRunpod's fake exists only inside a test");
    return fake;
  };
}
