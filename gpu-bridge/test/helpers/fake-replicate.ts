/**
 * An in-process stand-in for Replicate's predictions API, built from its
 * published HTTP reference: POST /v1/predictions (Bearer token, `Prefer:
 * wait`, {version, input}) → a prediction {id, status, output, error, logs,
 * urls: {get, cancel}}; GET urls.get; POST urls.cancel. Problem bodies are
 * {title, detail, status}. Output files are served from /files/.
 *
 * `behaviour` scripts what happens next: answer 429 a few times, need polls
 * before finishing, fail, or run until cancelled.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { listenOnLoopback, RecordingServer, send } from "./recording-server";

export interface ReplicateBehaviour {
  /** The next this-many creates answer 429 with this Retry-After (seconds). */
  throttle: number;
  retryAfterS: number;
  /** GETs a prediction needs before it succeeds; 0 = done within the create's `Prefer: wait`. */
  pollsBeforeDone: number;
  /** The prediction fails with this error instead of succeeding. */
  failWith: string | null;
  /** The prediction stays "processing" until cancelled. */
  hang: boolean;
  /** Which file the output URL serves, and as a bare URL or a list of URLs. */
  output: "image" | "video";
  outputShape: "string" | "array";
  /** urls.get / urls.cancel point at another origin (a bridge must not send its token there). */
  foreignUrls: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
  at: number;
}

interface Prediction {
  id: string;
  version: string;
  input: unknown;
  polls: number;
  status: string;
  canceled: boolean;
}

const DEFAULTS: ReplicateBehaviour = {
  throttle: 0,
  retryAfterS: 0,
  pollsBeforeDone: 0,
  failWith: null,
  hang: false,
  output: "image",
  outputShape: "string",
  foreignUrls: false,
};

export class FakeReplicate extends RecordingServer<RecordedRequest> {
  behaviour: ReplicateBehaviour = { ...DEFAULTS };
  private readonly predictions = new Map<string, Prediction>();

  private constructor(
    server: Server,
    url: string,
    readonly token: string,
    private readonly files: { image: Buffer; video: Buffer },
  ) {
    super(server, url);
  }

  static async start(options: { token: string; image: string; video: string }): Promise<FakeReplicate> {
    const files = { image: await readFile(options.image), video: await readFile(options.video) };
    const { server, url } = await listenOnLoopback();
    const fake = new FakeReplicate(server, url, options.token, files);
    server.on("request", (req, res) => void fake.handle(req, res));
    return fake;
  }

  of(method: string, pathPattern: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && pathPattern.test(r.path));
  }

  /** Forgets recorded requests and restores the default behaviour, between tests. */
  reset(): void {
    this.requests.length = 0;
    this.behaviour = { ...DEFAULTS };
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const path = new URL(req.url ?? "/", this.url).pathname;
    const recorded = { method: req.method ?? "GET", path, headers: req.headers, body: parse(text), at: Date.now() };
    this.record(recorded);

    if (path.startsWith("/files/")) {
      const kind = path === "/files/output.png" ? "image" : path === "/files/output.mp4" ? "video" : null;
      if (!kind) return send(res, 404, { title: "Not found", detail: "no such file", status: 404 });
      res.writeHead(200, { "content-type": kind === "image" ? "image/png" : "video/mp4" });
      res.end(this.files[kind]);
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return send(res, 401, {
        title: "Unauthenticated",
        detail: "You did not pass a valid authentication token",
        status: 401,
      });
    }
    const match = /^\/v1\/predictions(?:\/([^/]+)(\/cancel)?)?$/.exec(path);
    if (!match)
      return send(res, 404, { title: "Not found", detail: "The requested resource could not be found.", status: 404 });
    const [, id, cancel] = match;
    if (!id && req.method === "POST") return this.create(recorded.body, res);
    const prediction = id ? this.predictions.get(id) : undefined;
    if (!prediction) return send(res, 404, { title: "Not found", detail: "Prediction not found", status: 404 });
    if (cancel && req.method === "POST") {
      prediction.canceled = true;
      prediction.status = "canceled";
      return send(res, 200, this.view(prediction));
    }
    prediction.polls++;
    this.advance(prediction);
    return send(res, 200, this.view(prediction));
  }

  private create(body: unknown, res: ServerResponse) {
    if (this.behaviour.throttle > 0) {
      this.behaviour.throttle--;
      res.setHeader("retry-after", String(this.behaviour.retryAfterS));
      return send(res, 429, { title: "Too many requests", detail: "Request was throttled.", status: 429 });
    }
    const { version, input } = (body ?? {}) as { version?: unknown; input?: unknown };
    if (typeof version !== "string" || version.startsWith("missing/")) {
      return send(res, 422, {
        title: "Invalid version or not permitted",
        detail: "The specified version does not exist (or perhaps you don't have permission to use it?)",
        status: 422,
      });
    }
    const prediction: Prediction = {
      id: randomUUID().replaceAll("-", ""),
      version,
      input,
      polls: 0,
      status: "starting",
      canceled: false,
    };
    this.predictions.set(prediction.id, prediction);
    // `Prefer: wait`: a quick prediction is answered finished; a slow one as it stands.
    this.advance(prediction);
    send(res, 201, this.view(prediction));
  }

  private advance(prediction: Prediction) {
    if (prediction.canceled) return;
    const { pollsBeforeDone, hang, failWith } = this.behaviour;
    if (hang || prediction.polls < pollsBeforeDone) {
      prediction.status = prediction.polls === 0 ? "starting" : "processing";
      return;
    }
    prediction.status = failWith ? "failed" : "succeeded";
  }

  private view(prediction: Prediction): Record<string, unknown> {
    const origin = this.behaviour.foreignUrls ? "http://replicate.invalid" : this.url;
    const fileUrl = `${this.url}/files/${this.behaviour.output === "image" ? "output.png" : "output.mp4"}`;
    const succeeded = prediction.status === "succeeded";
    return {
      id: prediction.id,
      model: prediction.version.split(":")[0],
      version: prediction.version,
      input: prediction.input,
      status: prediction.status,
      output: succeeded ? (this.behaviour.outputShape === "array" ? [fileUrl] : fileUrl) : null,
      error: prediction.status === "failed" ? this.behaviour.failWith : null,
      logs: prediction.status === "processing" ? `${Math.min(99, prediction.polls * 30)}%|███       |` : "",
      urls: {
        get: `${origin}/v1/predictions/${prediction.id}`,
        cancel: `${origin}/v1/predictions/${prediction.id}/cancel`,
      },
      created_at: new Date().toISOString(),
    };
  }
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}
