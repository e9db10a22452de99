/**
 * One renderer per contract error shape, all fed by ApiError and codes.ts.
 *  - 000: {code, detail, user_action} (+ metadata.errors for field issues)
 *  - 001, 002, 004: {detail}, a string, or FastAPI's list for validation errors
 *  - 003: {code, message, details?, retryable, correlation_id} + X-Correlation-Id
 *  - 003|004: both sets of fields, for a caller we could not yet place
 */
import type { ApiError, FieldIssue } from "./api-error";
import { ERROR_CODES } from "./codes";
import type { Surface } from "./surface";

type Body = Record<string, unknown>;

function listDetail(issues: FieldIssue[]) {
  return issues.map((issue) => ({ loc: issue.location, msg: issue.message, type: issue.type }));
}

function render000(error: ApiError): Body {
  const spec = ERROR_CODES[error.code];
  const body: Body = {
    code: "c000" in spec ? spec.c000 : error.code,
    detail: error.message,
    user_action: error.options.userAction ?? spec.action,
  };
  const metadata: Body = { ...error.options.details };
  if (error.options.issues) {
    metadata.errors = error.options.issues.map((issue) => ({
      field: issue.location.slice(1).join(".") || issue.location.join("."),
      message: issue.message,
    }));
  }
  if (Object.keys(metadata).length > 0) body.metadata = metadata;
  return body;
}

function renderDetail(error: ApiError): Body {
  return { detail: error.options.issues ? listDetail(error.options.issues) : error.message };
}

function render003(error: ApiError, correlationId: string): Body {
  const spec = ERROR_CODES[error.code];
  const details: Body = { ...error.options.details };
  if (error.options.issues) details.errors = listDetail(error.options.issues);
  return {
    code: "c003" in spec ? spec.c003 : error.code.toUpperCase(),
    message: error.message,
    ...(Object.keys(details).length > 0 ? { details } : {}),
    retryable: "retryable" in spec ? spec.retryable : false,
    correlation_id: correlationId,
  };
}

export function renderError(error: ApiError, surface: Surface, requestId: string): Response {
  const headers = new Headers(error.options.headers);
  headers.set("Content-Type", "application/json; charset=utf-8");
  if (error.options.retryAfterSeconds !== undefined) {
    headers.set("Retry-After", String(Math.max(1, Math.ceil(error.options.retryAfterSeconds))));
  }
  let body: Body;
  switch (surface) {
    case "000":
      body = render000(error);
      break;
    case "003":
      body = render003(error, requestId);
      headers.set("X-Correlation-Id", requestId);
      break;
    case "003|004":
      body = { ...render003(error, requestId), ...renderDetail(error) };
      headers.set("X-Correlation-Id", requestId);
      break;
    default:
      body = renderDetail(error);
  }
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
