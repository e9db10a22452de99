/**
 * ComfyUI workflow templates: an API-format workflow (ComfyUI's "Export
 * (API)": {node id: {class_type, inputs}}) whose string values may hold
 * placeholders the bridge fills per job.
 *
 * Placeholders: {{prompt}} {{negative_prompt}} {{seed}} {{width}} {{height}}
 * {{steps}} {{guidance}}, and {{model}} when the job names one (params.model
 * other than "local"); images also {{strength}}, {{sampler}} and {{scheduler}}
 * (KSampler's sampler_name and scheduler: euler_a is euler_ancestral/normal,
 * dpmpp_2m_karras is dpmpp_2m/karras, ddim is ddim/ddim_uniform…),
 * {{clip_skip}} (negative, as CLIPSetLastLayer's stop_at_clip_layer wants:
 * clip_skip 2 is -2) and, for img2img, {{image}}; videos also {{frames}}
 * {{fps}} {{image_strength}} {{last_image_strength}} (0..1), {{lighting_variant}}
 * (empty when the job has none) and, when given, {{image}} (first frame) and
 * {{last_image}}. {{image}} / {{last_image}} become the names of the uploaded
 * pictures, as LoadImage expects them. A workflow using a placeholder the job
 * leaves empty ({{image}} without an image; {{sampler}}, {{scheduler}} or
 * {{clip_skip}} in a job written before those existed) fails the job as
 * input_missing.
 *
 * Values are inserted as JSON values, never spliced into JSON text, so a
 * prompt cannot break out of its string: a value that is exactly "{{seed}}"
 * becomes the number itself (ComfyUI wants typed inputs), and a placeholder
 * inside longer text ("photo of {{prompt}}") is replaced by the value's text.
 */
import { readFile } from "node:fs/promises";
import { JobError } from "../errors";

export type PlaceholderValues = Record<string, string | number | undefined>;

const PLACEHOLDER = /\{\{([a-z_]+)\}\}/g;
const WHOLE = /^\{\{([a-z_]+)\}\}$/;

/** What every generation fills in: the prompt, the seed, the size and the model's sampling settings. */
const SHARED = ["prompt", "negative_prompt", "seed", "width", "height", "steps", "guidance", "model"] as const;

export const PLACEHOLDERS = {
  image: [...SHARED, "strength", "sampler", "scheduler", "clip_skip", "image"],
  video: [
    ...SHARED,
    "fps",
    "frames",
    "image",
    "image_strength",
    "last_image",
    "last_image_strength",
    "lighting_variant",
  ],
} as const;

/** Reads and checks a workflow file; a bad file is this host's misconfiguration, not the job's fault. */
export async function loadWorkflow(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw misconfigured(`cannot read the workflow ${file}: ${error instanceof Error ? error.message : error}`);
  }
  let workflow: unknown;
  try {
    workflow = JSON.parse(text);
  } catch {
    throw misconfigured(`the workflow ${file} is not JSON`);
  }
  if (!workflow || typeof workflow !== "object" || Array.isArray(workflow)) {
    throw misconfigured(`the workflow ${file} is not a JSON object`);
  }
  const nodes = Object.values(workflow);
  if ("nodes" in workflow || nodes.length === 0 || !nodes.every(isApiNode)) {
    throw misconfigured(`the workflow ${file} is not in ComfyUI's API format (export it with "Export (API)")`);
  }
  return workflow as Record<string, unknown>;
}

/**
 * The workflow with every placeholder filled. Names outside `allowed` are a
 * misconfigured workflow; a known placeholder with no value (an {{image}} in
 * a job without one) is a job that does not fit this workflow.
 */
export function fillWorkflow(template: unknown, values: PlaceholderValues, allowed: readonly string[]): unknown {
  const fill = (value: unknown): unknown => {
    if (typeof value === "string") return fillString(value, values, allowed);
    if (Array.isArray(value)) return value.map(fill);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, fill(inner)]));
    }
    return value;
  };
  return fill(template);
}

function fillString(text: string, values: PlaceholderValues, allowed: readonly string[]): string | number {
  const lookup = (name: string): string | number => {
    if (!allowed.includes(name)) {
      throw misconfigured(
        `the workflow uses {{${name}}}, which is not a placeholder here (known: ${allowed.join(", ")})`,
      );
    }
    const value = values[name];
    if (value === undefined) {
      throw new JobError("input_missing", `the workflow needs {{${name}}} but the job does not give one`, false);
    }
    return value;
  };
  const whole = WHOLE.exec(text);
  if (whole?.[1]) return lookup(whole[1]);
  return text.replace(PLACEHOLDER, (_match, name: string) => String(lookup(name)));
}

function isApiNode(node: unknown): boolean {
  return !!node && typeof node === "object" && typeof (node as { class_type?: unknown }).class_type === "string";
}

function misconfigured(message: string): JobError {
  return new JobError("provider_misconfigured", message, false);
}
