/**
 * An in-process stand-in for ComfyUI's HTTP API, built from its server
 * routes: POST /upload/image (multipart "image") → {name, subfolder, type};
 * POST /prompt {prompt, client_id} → {prompt_id, number, node_errors}, or 400
 * {error: {type, message, details}, node_errors} for an invalid workflow;
 * GET /history/{id} → {} until done, then {id: {outputs, status}}; GET /view
 * serves an output file; POST /interrupt and POST /queue {delete} are recorded.
 *
 * A node whose class_type is "Invalid" fails validation; `behaviour` scripts
 * the rest (polls needed, an execution error, never finishing).
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { listenOnLoopback, RecordingServer, send } from "./recording-server";

export interface ComfyBehaviour {
  /** History polls answered {} before the prompt shows up finished. */
  pollsBeforeDone: number;
  /** The prompt fails in this node type with this exception message. */
  failWith: { nodeType: string; message: string } | null;
  /** The prompt never finishes: for aborting a job mid-generation. */
  hang: boolean;
  output: "image" | "video";
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

const DEFAULTS: ComfyBehaviour = { pollsBeforeDone: 0, failWith: null, hang: false, output: "image" };

export class FakeComfyUi extends RecordingServer<RecordedRequest> {
  /** Uploaded pictures by the name the server gave them. */
  readonly uploads = new Map<string, Buffer>();
  behaviour: ComfyBehaviour = { ...DEFAULTS };
  private readonly polls = new Map<string, number>();
  private queued = 0;

  private constructor(
    server: Server,
    url: string,
    private readonly files: { image: Buffer; video: Buffer },
  ) {
    super(server, url);
  }

  static async start(options: { image: string; video: string }): Promise<FakeComfyUi> {
    const files = { image: await readFile(options.image), video: await readFile(options.video) };
    const { server, url } = await listenOnLoopback();
    const fake = new FakeComfyUi(server, url, files);
    server.on("request", (req, res) => void fake.handle(req, res));
    return fake;
  }

  of(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path)),
    );
  }

  /** Forgets recorded requests and restores the default behaviour, between tests. */
  reset(): void {
    this.requests.length = 0;
    this.uploads.clear();
    this.behaviour = { ...DEFAULTS };
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const isJson = (req.headers["content-type"] ?? "").startsWith("application/json");
    const recorded = {
      method,
      path: url.pathname,
      query: url.searchParams,
      body: isJson ? JSON.parse(raw.toString()) : undefined,
    };
    this.record(recorded);

    if (method === "POST" && url.pathname === "/upload/image") return this.upload(req, raw, res);
    if (method === "POST" && url.pathname === "/prompt") return this.prompt(recorded.body, res);
    if (method === "POST" && (url.pathname === "/interrupt" || url.pathname === "/queue")) {
      res.writeHead(200).end();
      return;
    }
    const history = /^\/history\/([^/]+)$/.exec(url.pathname);
    if (method === "GET" && history?.[1]) return this.history(history[1], res);
    if (method === "GET" && url.pathname === "/view") return this.view(url.searchParams, res);
    res.writeHead(404).end("404: Not Found");
  }

  private async upload(req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    const form = await new Request(this.url, {
      method: "POST",
      headers: { "content-type": req.headers["content-type"] ?? "" },
      body: raw,
    }).formData();
    const image = form.get("image");
    if (!(image instanceof File) || !image.name) return void res.writeHead(400).end();
    this.uploads.set(image.name, Buffer.from(await image.arrayBuffer()));
    send(res, 200, { name: image.name, subfolder: "", type: String(form.get("type") ?? "input") });
  }

  private prompt(body: unknown, res: ServerResponse) {
    const prompt = (body as { prompt?: Record<string, { class_type?: string }> } | undefined)?.prompt;
    if (!prompt || typeof prompt !== "object") {
      return send(res, 400, {
        error: { type: "no_prompt", message: "No prompt provided", details: "" },
        node_errors: {},
      });
    }
    const invalid = Object.entries(prompt).find(([, node]) => node.class_type === "Invalid");
    if (invalid) {
      return send(res, 400, {
        error: {
          type: "prompt_outputs_failed_validation",
          message: "Prompt outputs failed validation",
          details: `Node ${invalid[0]}: invalid class_type`,
          extra_info: {},
        },
        node_errors: {
          [invalid[0]]: { errors: [{ type: "invalid", message: "invalid class_type" }], class_type: "Invalid" },
        },
      });
    }
    const promptId = randomUUID();
    this.polls.set(promptId, 0);
    send(res, 200, { prompt_id: promptId, number: this.queued++, node_errors: {} });
  }

  private history(promptId: string, res: ServerResponse) {
    const seen = this.polls.get(promptId);
    if (seen === undefined) return send(res, 200, {});
    const polls = seen + 1;
    this.polls.set(promptId, polls);
    const { hang, pollsBeforeDone, failWith, output } = this.behaviour;
    if (hang || polls <= pollsBeforeDone) return send(res, 200, {});
    if (failWith) {
      return send(res, 200, {
        [promptId]: {
          prompt: [],
          outputs: {},
          status: {
            status_str: "error",
            completed: false,
            messages: [
              ["execution_start", { prompt_id: promptId }],
              [
                "execution_error",
                {
                  prompt_id: promptId,
                  node_id: "3",
                  node_type: failWith.nodeType,
                  exception_message: failWith.message,
                },
              ],
            ],
          },
        },
      });
    }
    const file =
      output === "image"
        ? { filename: "ComfyUI_00001_.png" }
        : { filename: "ComfyUI_00001.mp4", format: "video/h264-mp4" };
    send(res, 200, {
      [promptId]: {
        prompt: [],
        outputs: {
          "8": { images: [{ filename: "preview.png", subfolder: "", type: "temp" }] },
          "9": { [output === "image" ? "images" : "gifs"]: [{ ...file, subfolder: "media-edge", type: "output" }] },
        },
        status: { status_str: "success", completed: true, messages: [["execution_success", { prompt_id: promptId }]] },
      },
    });
  }

  private view(query: URLSearchParams, res: ServerResponse) {
    const name = query.get("filename");
    const body =
      name === "ComfyUI_00001_.png" ? this.files.image : name === "ComfyUI_00001.mp4" ? this.files.video : null;
    if (!body || query.get("type") !== "output" || query.get("subfolder") !== "media-edge") {
      return void res.writeHead(404).end();
    }
    res.writeHead(200, { "content-type": name?.endsWith(".png") ? "image/png" : "video/mp4" });
    res.end(body);
  }
}
