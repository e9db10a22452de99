/** A job's params through its job type's schema: a bad one is the dispatcher's mistake, not worth a retry. */
import type { z } from "zod";
import { JobError } from "../errors";
import type { HandlerContext } from "./types";

export function parseParams<T>(schema: z.ZodType<T>, context: Pick<HandlerContext, "job">): T {
  const parsed = schema.safeParse(context.job.params);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((issue) => `${issue.path.join(".") || "params"}: ${issue.message}`);
  throw new JobError("invalid_params", `${context.job.job_type} params: ${detail.join("; ")}`, false);
}
