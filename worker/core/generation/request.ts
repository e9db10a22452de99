/**
 * Reading a POST /generate body against the model catalog: the model named by
 * id or alias, its type and mode, its parameter rules, then the images its
 * mode needs. Every problem of a stage is reported at once, field by field
 * (422 validation_error). Fields the request may carry but this model and mode
 * do not use are ignored, as the original did, and listed so a client can tell.
 */
import {
  canonicalModel,
  type GenerationMode,
  GUIDANCE_ALIASES,
  IMAGE_FIELDS,
  type ImageParams,
  type ImageSource,
  MODE_IMAGES,
  type ModelId,
  modelLabels,
  modelSpec,
  type VideoParams,
} from "../../contracts/models";
import { ApiError, type FieldIssue } from "../../errors/api-error";

/** One image the job will read: its job input name, its field's path in the request, and its bytes' source. */
export interface RequestedImage {
  input: string;
  path: (string | number)[];
  source: ImageSource;
}

interface Common {
  model: ModelId;
  /** What the client called the model (an id or an alias), kept for responses. */
  label: string;
  mode: GenerationMode;
  images: RequestedImage[];
  /** Fields sent that this model and mode do not use. */
  ignored: string[];
}

export type GenerationRequest =
  | (Common & { type: "video"; params: VideoParams })
  | (Common & { type: "image"; params: ImageParams });

/** Fields that choose the schema (read first) rather than being checked by it. */
const ENVELOPE = ["model", "type", "mode"] as const;
/** Any model's parsed fields, for code that reads them before knowing which type they are. */
type AnyParams = Partial<Omit<VideoParams, "output_format">> &
  Partial<Omit<ImageParams, "output_format">> & { output_format?: string };
const MODE_KEYS = Object.keys(MODE_IMAGES) as GenerationMode[];

export function parseGenerateRequest(body: Record<string, unknown>): GenerationRequest {
  const issues: FieldIssue[] = [];
  const problem = (path: (string | number)[], message: string, type = "custom") =>
    issues.push({ location: ["body", ...path], message, type });

  const label = typeof body.model === "string" ? body.model : undefined;
  const model = label === undefined ? undefined : canonicalModel(label);
  if (label === undefined) problem(["model"], "required", "invalid_type");
  else if (!model) problem(["model"], `unknown model ${label}; expected one of ${modelLabels().join(", ")}`, "enum");
  const spec = model ? modelSpec(model) : undefined;

  const type = body.type;
  if (type !== "video" && type !== "image") problem(["type"], 'expected "video" or "image"', "enum");
  else if (spec && spec.type !== type) problem(["type"], `${model} makes ${spec.type}, not ${type}`);

  const mode = body.mode;
  const modes: readonly string[] = spec?.modes ?? [...MODE_KEYS];
  if (typeof mode !== "string" || !modes.includes(mode)) {
    problem(["mode"], `expected one of ${modes.join(", ")}${spec ? ` (the modes ${model} supports)` : ""}`, "enum");
  }

  const { fields, guidanceFrom } = withGuidanceAliases(body, problem);
  const parsed = spec?.params.safeParse(fields);
  // Issues name the field the client sent, so an alias's are reported under the alias.
  const fieldIssues = (parsed?.error?.issues ?? []).map(
    (issue): FieldIssue => ({
      location: [
        "body",
        ...issue.path.map((part) =>
          typeof part === "number" ? part : part === "guidance_scale" ? guidanceFrom : String(part),
        ),
      ],
      message: issue.message,
      type: issue.code,
    }),
  );
  if (!spec || !model || !label || !parsed?.success || issues.length > 0) throw invalid([...issues, ...fieldIssues]);
  const params: AnyParams = parsed.data;
  const images = modeImages(mode as GenerationMode, params, problem);
  if (issues.length > 0) throw invalid(issues);

  const used = new Set(images.map((image) => image.path[0]));
  const ignored = [
    ...Object.keys(fields).filter((key) => !(key in params)),
    ...IMAGE_FIELDS.filter((key) => key in params && params[key] !== undefined && !used.has(key)),
  ];
  for (const key of IMAGE_FIELDS) if (!used.has(key)) delete params[key];
  const common = { model, label, mode: mode as GenerationMode, images, ignored };
  return spec.type === "video"
    ? { ...common, type: "video", params: parsed.data as VideoParams }
    : { ...common, type: "image", params: parsed.data as ImageParams };
}

function invalid(issues: FieldIssue[]): ApiError {
  return new ApiError("validation_failed", "The generation request is invalid", { issues });
}

/**
 * The body without its envelope, with cfg_scale / cfg folded into
 * guidance_scale (differing values are an issue); `guidanceFrom` is the name
 * the client used for it.
 */
function withGuidanceAliases(
  body: Record<string, unknown>,
  problem: (path: string[], message: string) => void,
): { fields: Record<string, unknown>; guidanceFrom: string } {
  const fields: Record<string, unknown> = { ...body };
  let guidanceFrom = "guidance_scale";
  for (const key of ENVELOPE) delete fields[key];
  for (const alias of GUIDANCE_ALIASES) {
    if (!(alias in fields)) continue;
    const value = fields[alias];
    delete fields[alias];
    if (fields.guidance_scale === undefined) {
      fields.guidance_scale = value;
      guidanceFrom = alias;
    } else if (fields.guidance_scale !== value) {
      problem([alias], `conflicts with ${guidanceFrom} (${alias} is an alias of guidance_scale)`);
    }
  }
  return { fields, guidanceFrom };
}

/** The images `mode` reads, each required; keyframes must lie inside the clip and not repeat. */
function modeImages(
  mode: GenerationMode,
  params: AnyParams,
  problem: (path: (string | number)[], message: string) => void,
): RequestedImage[] {
  const images: RequestedImage[] = [];
  for (const { field, input } of MODE_IMAGES[mode]) {
    const source = params[field];
    if (source === undefined) problem([field], `required in ${mode} mode`);
    else images.push({ input, path: [field], source });
  }
  if (mode !== "arbitrary_frame") return images;
  const frames = params.arbitrary_frames;
  if (!frames) {
    problem(["arbitrary_frames"], "required in arbitrary_frame mode");
    return images;
  }
  const seen = new Set<number>();
  frames.forEach((frame, index) => {
    const numFrames = params.num_frames ?? 0;
    if (frame.frame_index >= numFrames) {
      problem(["arbitrary_frames", index, "frame_index"], `must be below num_frames (${numFrames})`);
    }
    if (seen.has(frame.frame_index)) problem(["arbitrary_frames", index, "frame_index"], "repeats an earlier frame");
    seen.add(frame.frame_index);
    images.push({
      input: `frame_${frame.frame_index}`,
      path: ["arbitrary_frames", index, "image"],
      source: frame.image,
    });
  });
  return images;
}
