/**
 * Turns a failed zod parse of any request part into one ApiError, so every
 * surface renders validation failures in its own shape from the same issues.
 */
import type { z } from "zod";
import { ApiError, type FieldIssue } from "../errors/api-error";

const LOCATION: Record<string, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

function validationError(error: z.ZodError, target: string): ApiError {
  const issues: FieldIssue[] = error.issues.map((issue) => ({
    location: [
      LOCATION[target] ?? target,
      ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part)),
    ],
    message: issue.message,
    type: issue.code,
  }));
  return new ApiError("validation_failed", "Request validation failed", { issues });
}

/** The OpenAPIHono defaultHook: throw instead of answering zod's own 400. */
export function throwOnInvalid(result: { success: boolean; error?: z.ZodError; target: string }): void {
  if (!result.success && result.error) throw validationError(result.error, result.target);
}
