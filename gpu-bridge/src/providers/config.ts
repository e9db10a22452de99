/**
 * Which remote providers this bridge may use, from environment variables.
 * Each provider is parsed on its own: a mistake in one (a bad URL, a model id
 * that cannot be one) disables that provider and is reported, without taking
 * the local provider or the other remote one down with it. Secrets are never
 * echoed, not even in error messages.
 */
import { existsSync } from "node:fs";
import { z } from "zod";

export interface ReplicateConfig {
  token: string;
  /** Origin (and optional path prefix) of the API, without a trailing slash. */
  baseUrl: string;
  imageModel: string | null;
  videoModel: string | null;
}

export interface ComfyUiConfig {
  url: string;
  /** Sent as a Bearer token when ComfyUI sits behind an authenticating proxy. */
  token: string | null;
  /** Paths of API-format workflow JSON files with {{placeholders}} (see comfyui-workflow.ts). */
  imageWorkflow: string | null;
  videoWorkflow: string | null;
}

export interface ProviderConfig {
  replicate: ReplicateConfig | null;
  comfyui: ComfyUiConfig | null;
  /** Longest one remote generation may take, queueing included. */
  timeoutMs: number;
  /** One line per variable that is wrong, naming the provider it disabled. */
  problems: string[];
}

/**
 * Replicate model refs: "owner/name" (official models), "owner/name:<version>"
 * or a bare 64-hex version id. They go in the request body, never in a URL.
 */
export const REPLICATE_MODEL_PATTERN =
  /^(?:[a-z0-9][a-z0-9_.-]*\/[a-z0-9][a-z0-9_.-]*(?::[0-9a-f]{64})?|[0-9a-f]{64})$/i;

const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });
const modelRef = z
  .string()
  .trim()
  .regex(REPLICATE_MODEL_PATTERN, "expected owner/name, owner/name:version or a version id");

const replicateSchema = z.object({
  GPU_BRIDGE_REPLICATE_API_TOKEN: z.string().trim().min(1),
  GPU_BRIDGE_REPLICATE_BASE_URL: httpUrl.default("https://api.replicate.com"),
  GPU_BRIDGE_REPLICATE_IMAGE_MODEL: modelRef.optional(),
  GPU_BRIDGE_REPLICATE_VIDEO_MODEL: modelRef.optional(),
});

const comfyuiSchema = z.object({
  GPU_BRIDGE_COMFYUI_URL: httpUrl,
  GPU_BRIDGE_COMFYUI_TOKEN: z.string().trim().min(1).optional(),
  GPU_BRIDGE_COMFYUI_IMAGE_WORKFLOW: z.string().min(1).optional(),
  GPU_BRIDGE_COMFYUI_VIDEO_WORKFLOW: z.string().min(1).optional(),
});

const sharedSchema = z.object({
  GPU_BRIDGE_PROVIDER_TIMEOUT_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 3600)
    .default(1800),
});

const SECRET_NAMES = new Set(["GPU_BRIDGE_REPLICATE_API_TOKEN", "GPU_BRIDGE_COMFYUI_TOKEN"]);

export function loadProviderConfig(env: NodeJS.ProcessEnv): ProviderConfig {
  const problems: string[] = [];
  const shared = parse("providers", sharedSchema, env, problems);
  return {
    replicate: loadReplicate(env, problems),
    comfyui: loadComfyUi(env, problems),
    timeoutMs: (shared?.GPU_BRIDGE_PROVIDER_TIMEOUT_S ?? 1800) * 1000,
    problems,
  };
}

function loadReplicate(env: NodeJS.ProcessEnv, problems: string[]): ReplicateConfig | null {
  if (!anySet(env, replicateSchema)) return null;
  const vars = parse("replicate", replicateSchema, env, problems);
  if (!vars) return null;
  const baseUrl = vars.GPU_BRIDGE_REPLICATE_BASE_URL.replace(/\/+$/, "");
  const unsafe = plainHttpSecret("GPU_BRIDGE_REPLICATE_BASE_URL", baseUrl, true);
  if (unsafe) {
    problems.push(`replicate: ${unsafe}`);
    return null;
  }
  return {
    token: vars.GPU_BRIDGE_REPLICATE_API_TOKEN,
    baseUrl,
    imageModel: vars.GPU_BRIDGE_REPLICATE_IMAGE_MODEL ?? null,
    videoModel: vars.GPU_BRIDGE_REPLICATE_VIDEO_MODEL ?? null,
  };
}

function loadComfyUi(env: NodeJS.ProcessEnv, problems: string[]): ComfyUiConfig | null {
  if (!anySet(env, comfyuiSchema)) return null;
  const vars = parse("comfyui", comfyuiSchema, env, problems);
  if (!vars) return null;
  const unsafe = plainHttpSecret(
    "GPU_BRIDGE_COMFYUI_URL",
    vars.GPU_BRIDGE_COMFYUI_URL,
    Boolean(vars.GPU_BRIDGE_COMFYUI_TOKEN),
  );
  if (unsafe) {
    problems.push(`comfyui: ${unsafe}`);
    return null;
  }
  return {
    url: vars.GPU_BRIDGE_COMFYUI_URL.replace(/\/+$/, ""),
    token: vars.GPU_BRIDGE_COMFYUI_TOKEN ?? null,
    imageWorkflow: vars.GPU_BRIDGE_COMFYUI_IMAGE_WORKFLOW ?? null,
    videoWorkflow: vars.GPU_BRIDGE_COMFYUI_VIDEO_WORKFLOW ?? null,
  };
}

/**
 * For `gpu-bridge doctor`: one line per provider saying whether it can be
 * used and with what (URLs, model ids, workflow files), or why not; never a
 * secret.
 */
export function describeProviders(env: NodeJS.ProcessEnv = process.env): string[] {
  const config = loadProviderConfig(env);
  const { replicate, comfyui } = config;
  const problemsOf = (name: string) => config.problems.filter((p) => p.startsWith(`${name}:`));
  const describe = (name: string, configured: string | null, hint: string) => {
    if (configured) return [`${name}: configured at ${configured}`];
    const problems = problemsOf(name);
    return problems.length > 0
      ? problems.map((p) => `${name}: misconfigured, ${p.slice(name.length + 2)}`)
      : [`${name}: not configured (${hint})`];
  };
  return [
    "local: available (procedural patterns from the prompt's hash; not a model)",
    ...describe(
      "replicate",
      replicate &&
        `${replicate.baseUrl} (token set; image model ${replicate.imageModel ?? "none"}, video model ${replicate.videoModel ?? "none"})`,
      "set GPU_BRIDGE_REPLICATE_API_TOKEN and a model",
    ),
    ...describe(
      "comfyui",
      comfyui &&
        `${comfyui.url} (image workflow ${workflowState(comfyui.imageWorkflow)}, video workflow ${workflowState(comfyui.videoWorkflow)})`,
      "set GPU_BRIDGE_COMFYUI_URL and a workflow file",
    ),
    ...problemsOf("providers"),
  ];
}

function workflowState(file: string | null): string {
  if (!file) return "none";
  return existsSync(file) ? file : `${file} (missing)`;
}

/** Present (non-empty) variables of the schema's names; an empty variable counts as unset, as in config.ts. */
function present(env: NodeJS.ProcessEnv, schema: z.ZodObject): Record<string, string> {
  return Object.fromEntries(
    Object.keys(schema.shape).flatMap((name) => (env[name] ? [[name, env[name]] as const] : [])),
  );
}

function anySet(env: NodeJS.ProcessEnv, schema: z.ZodObject): boolean {
  return Object.keys(present(env, schema)).length > 0;
}

function parse<T extends z.ZodObject>(
  provider: string,
  schema: T,
  env: NodeJS.ProcessEnv,
  problems: string[],
): z.infer<T> | null {
  const vars = present(env, schema);
  const parsed = schema.safeParse(vars);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const name = String(issue.path[0] ?? "environment");
    const shown = SECRET_NAMES.has(name) || vars[name] === undefined ? "" : `=${JSON.stringify(vars[name])}`;
    const message = vars[name] === undefined ? "required" : issue.message;
    problems.push(`${provider}: ${name}${shown}: ${message}`);
  }
  return null;
}

/**
 * A credential rides on every request to `url`: only loopback (a test double,
 * a local proxy) may see it over plain http. The problem to report, or null.
 */
export function plainHttpSecret(name: string, url: string, carriesSecret: boolean): string | null {
  const { protocol, hostname } = new URL(url);
  if (!carriesSecret || protocol !== "http:" || isLoopback(hostname)) return null;
  return `${name}: plain http is only allowed to loopback (the credential would travel unencrypted)`;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
