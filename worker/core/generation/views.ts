/**
 * Contract 000's projections of a generation: the status a client polls (the
 * contract's {status, progress, error_msg?} plus what the original client
 * reads: stage, stage_detail "ok:WxH" for images, result and preview URLs,
 * times) and a gallery item. Statuses and error codes are 000's words:
 * running is "processing", a first attempt the board never started is
 * worker_start_timeout.
 */
import { type LiveState, WORKER_START_TIMEOUT } from "./deadlines";
import type { Generation } from "./tasks";

/** Engine error codes clients of 000 know by another name. */
const CODES_000: Record<string, string> = { not_started: WORKER_START_TIMEOUT };

const resultUrl = (taskId: string) => `/results/${taskId}`;
const previewUrl = (taskId: string) => `/preview/${taskId}`;

export function statusView(generation: Generation, live: LiveState) {
  const { task, record } = generation;
  const done = live.status === "done";
  const errorCode = live.error ? (CODES_000[live.error.code] ?? live.error.code) : null;
  return {
    task_id: task.id,
    status: live.status === "running" ? ("processing" as const) : live.status,
    /** Percent, 0..100. */
    progress: done ? 100 : Math.min(99, Math.round(live.progress * 100)),
    error_msg: live.error?.message ?? null,
    error_code: errorCode,
    stage: done ? "completed" : live.stage,
    stage_detail: done ? (record.type === "image" ? `ok:${size(generation)}` : "ok") : errorCode,
    result_url: done ? resultUrl(task.id) : null,
    preview_url: done ? previewUrl(task.id) : null,
    model: record.model,
    label: record.label,
    type: record.type,
    mode: record.mode,
    seed: record.parameters.seed,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}

export function galleryItem(generation: Generation) {
  const { task, record } = generation;
  const { width, height } = made(generation);
  return {
    id: task.id,
    task_id: task.id,
    model: record.model,
    label: record.label,
    type: record.type,
    mode: record.mode,
    prompt: record.prompt,
    negative_prompt: record.negative_prompt,
    parameters: record.parameters,
    width,
    height,
    seed: record.parameters.seed,
    created_at: task.createdAt.toISOString(),
    preview_url: previewUrl(task.id),
    result_url: resultUrl(task.id),
  };
}

/** The size the bridge made (its facts), else the size asked for. */
function made(generation: Generation): { width: number; height: number } {
  const facts = generation.job.result?.facts as { width?: unknown; height?: unknown } | undefined;
  const { width, height } = generation.record.parameters;
  return {
    width: typeof facts?.width === "number" ? facts.width : width,
    height: typeof facts?.height === "number" ? facts.height : height,
  };
}

function size(generation: Generation): string {
  const { width, height } = made(generation);
  return `${width}x${height}`;
}
