/**
 * The app's onError and notFound. Known errors render in the surface's shape;
 * anything else is logged with the request id and answered as a generic 500,
 * so exception text never reaches a client.
 */
import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";
import type { ErrorCode } from "../errors/codes";
import { renderError } from "../errors/render";
import { surfaceForPath } from "../errors/surface";

const BY_STATUS: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

function toApiError(error: unknown, requestId: string, path: string): ApiError {
  if (error instanceof ApiError) return error;
  // Hono's own refusals (malformed JSON, wrong content type) carry safe, fixed messages.
  if (error instanceof HTTPException && BY_STATUS[error.status]) {
    return new ApiError(BY_STATUS[error.status] ?? "bad_request", error.message || "Bad request");
  }
  console.error(
    JSON.stringify({
      level: "error",
      request_id: requestId,
      path,
      error: describe(error),
    }),
  );
  return new ApiError("internal_error", "Internal server error");
}

/**
 * What the log may hold. A failed query's message carries its bound values
 * (password hashes, response bodies): for those only the driver's cause is kept.
 */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return "non-Error thrown";
  if (error.name === "DrizzleQueryError") {
    return `${error.name}: ${error.cause instanceof Error ? error.cause.message : "query failed"}`;
  }
  return error.stack ?? `${error.name}: ${error.message}`;
}

export const handleError: ErrorHandler<AppEnv> = (error, c) => {
  const requestId = c.get("requestId") ?? crypto.randomUUID();
  const surface = c.get("surface") ?? surfaceForPath(c.req.path);
  const response = renderError(toApiError(error, requestId, c.req.path), surface, requestId);
  response.headers.set("X-Request-Id", requestId);
  return response;
};

export const handleNotFound: NotFoundHandler<AppEnv> = (c) =>
  handleError(new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`), c);
