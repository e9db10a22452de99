/**
 * ApiError is the only error a handler throws on purpose. It carries an internal
 * code from codes.ts; the surface's renderer decides the body. The message is
 * written for clients; never put exception text or secrets in it.
 */
import { type ErrorCode, specOf } from "./codes";

/** One field-level problem, in a neutral form every renderer can translate. */
export interface FieldIssue {
  /** Where: "body", "query", "path", "header", "cookie", "form", then the field path. */
  location: (string | number)[];
  message: string;
  type: string;
}

export interface ApiErrorOptions {
  issues?: FieldIssue[];
  /** Structured context safe to show the client. */
  details?: Record<string, unknown>;
  retryAfterSeconds?: number;
  headers?: Record<string, string>;
  /** A 000 user_action more specific than the table's default. */
  userAction?: string;
}

export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: ApiErrorOptions = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = specOf(code).status;
  }
}
