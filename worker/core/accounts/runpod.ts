/**
 * RunPod's REST API (https://rest.runpod.io/v1, OpenAPI at /openapi.json):
 * `POST /pods` (PodCreateInput → 201 Pod), `GET /pods?name=` (Pod[]) and
 * `DELETE /pods/{podId}` (204), with the account's API key as a Bearer token. The base URL comes from
 * configuration only (RUNPOD_API_URL); the pod id in a path is the one RunPod
 * itself returned.
 *
 * Retries follow RunPod's own CLI: a 429 means the request was refused before
 * any work, so it is retried (after Retry-After, or a doubling backoff) for
 * every method; a 5xx or a lost connection is retried only for GET and DELETE,
 * because a create that failed late may still have started a billed pod (the
 * caller then looks for it by name). Errors come
 * back as {"error": "..."} (or "message"/"detail"); what a failure means for
 * the account is its kind: auth and quota and config disable it, transient
 * marks it failed.
 */
import { z } from "zod";
import type { Config } from "../../config";

export type FailureKind = "auth" | "quota" | "config" | "transient";

export class ProviderFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    /** RunPod's HTTP status; null when no answer came. */
    readonly status: number | null,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ProviderFailure";
  }
}

/** The PodCreateInput fields a bridge pod needs. */
export interface PodRequest {
  name: string;
  imageName: string;
  gpuTypeIds: string[];
  gpuCount: number;
  cloudType: "SECURE" | "COMMUNITY";
  containerDiskInGb: number;
  env: Record<string, string>;
  dockerStartCmd?: string[];
}

/** A pod id as RunPod issues them ("xedezhzb9la3ye"); anything else is never put in a path. */
const podIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

const podSchema = z.object({
  id: podIdSchema,
  name: z.string().nullish(),
  /** The reference's own example is a string ("0.74"). */
  costPerHr: z.coerce.number().nonnegative().nullish(),
  desiredStatus: z.string().nullish(),
});
export type Pod = z.infer<typeof podSchema>;

const REQUEST_TIMEOUT_MS = 15_000;
const BACKOFF_BASE_MS = 500;
const MESSAGE_MAX = 200;

export async function createPod(config: Config, apiKey: string, request: PodRequest): Promise<Pod> {
  // The pod's environment carries the bridge's token: an error echoing the request must not leak it.
  const response = await send(config, apiKey, "POST", "/pods", request, Object.values(request.env));
  const parsed = podSchema.safeParse(await response.json().catch(() => null));
  if (!parsed.success) {
    throw new ProviderFailure("transient", response.status, "RunPod accepted the pod but its answer had no pod id");
  }
  return parsed.data;
}

/** The account's pod of this name, if RunPod has one (a create that answered 5xx may have made it). */
export async function findPodByName(config: Config, apiKey: string, name: string): Promise<Pod | null> {
  const response = await send(config, apiKey, "GET", `/pods?name=${encodeURIComponent(name)}`);
  const pods = z.array(podSchema).safeParse(await response.json().catch(() => null));
  if (!pods.success)
    throw new ProviderFailure("transient", response.status, "RunPod listed pods in a shape it does not document");
  return pods.data.find((pod) => pod.name === name) ?? null;
}

/** Deleting a pod that is already gone is success: the goal is that it no longer bills. */
export async function terminatePod(config: Config, apiKey: string, podId: string): Promise<void> {
  const id = podIdSchema.parse(podId);
  try {
    await send(config, apiKey, "DELETE", `/pods/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof ProviderFailure && error.status === 404) return;
    throw error;
  }
}

async function send(
  config: Config,
  apiKey: string,
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
  alsoSecret: string[] = [],
) {
  const url = `${config.RUNPOD_API_URL.replace(/\/+$/, "")}${path}`;
  const retriesAfterFailure = method !== "POST";
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= config.RUNPOD_MAX_ATTEMPTS;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      if (retriesAfterFailure && !last) {
        await sleep(backoffMs(attempt));
        continue;
      }
      const reason = error instanceof Error ? error.name : "network error";
      throw new ProviderFailure("transient", null, `RunPod could not be reached (${reason})`);
    }
    if (response.ok) return response;
    const failure = await failureOf(response, [apiKey, ...alsoSecret]);
    const retryable = response.status === 429 || (response.status >= 500 && retriesAfterFailure);
    const waitMs = failure.retryAfterSeconds !== undefined ? failure.retryAfterSeconds * 1000 : backoffMs(attempt);
    if (!retryable || last || waitMs > config.RUNPOD_RETRY_MAX_WAIT_S * 1000) throw failure;
    await sleep(waitMs);
  }
}

async function failureOf(response: Response, secrets: string[]): Promise<ProviderFailure> {
  const status = response.status;
  const text = await response.text().catch(() => "");
  // Whatever RunPod echoes, a secret never reaches a log, a row or a response.
  let said = errorMessage(text);
  for (const secret of secrets) if (secret) said = said.replaceAll(secret, "[redacted]");
  // Shortened only once redacted, so no cut can leave part of a secret behind.
  const message = `RunPod answered ${status}: ${said.slice(0, MESSAGE_MAX) || "no message"}`;
  return new ProviderFailure(kindOf(status, message), status, message, retryAfterSeconds(response));
}

function kindOf(status: number, message: string): FailureKind {
  if (status === 401 || status === 403) return "auth";
  if (status === 402) return "quota";
  if (status === 429 || status >= 500) return "transient";
  return /insufficient|balance|funds|quota|spend/i.test(message) ? "quota" : "config";
}

function errorMessage(text: string): string {
  let message = text.trim();
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const field = [body.error, body.message, body.detail].find((value) => typeof value === "string");
    if (typeof field === "string") message = field;
  } catch {
    // Not JSON: the text itself.
  }
  return message;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

const backoffMs = (attempt: number) => BACKOFF_BASE_MS * 2 ** (attempt - 1);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
