/**
 * Why a job failed, as the Worker is told it: an error_code and whether
 * another attempt can help. Bad input is final; trouble on this host (I/O, a
 * missing tool, a hung process, the Worker's hiccups) is worth another try,
 * and so is the unknown, since the board caps attempts anyway.
 */
import { errorMessage, isTransient, JobError } from "./errors";
import { ToolMissingError, ToolTimeoutError } from "./ffmpeg";

export interface Failure {
  code: string;
  message: string;
  retryable: boolean;
}

export function classifyFailure(error: unknown): Failure {
  const message = errorMessage(error).slice(0, 2000);
  if (error instanceof JobError) return { code: error.code, message, retryable: error.retryable };
  if (error instanceof ToolMissingError) return { code: "tool_missing", message, retryable: true };
  if (error instanceof ToolTimeoutError) return { code: "tool_timeout", message, retryable: true };
  if (isTransient(error)) return { code: "transient_error", message, retryable: true };
  if (isSystemError(error)) return { code: "io_error", message, retryable: true };
  return { code: "handler_error", message, retryable: true };
}

/** Node's I/O errors carry an errno-style code: ENOSPC, EIO, EMFILE, ECONNRESET... */
export function isSystemError(error: unknown): boolean {
  return error instanceof Error && "code" in error && typeof error.code === "string" && /^E[A-Z]+$/.test(error.code);
}
