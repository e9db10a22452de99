/**
 * The one table of error codes. Each internal code has an HTTP status, the code
 * contract 000 shows (the original's lowercase names), the code contract 003
 * shows (its upper-case normative names), whether retrying can help, and the
 * default guidance a 000 client shows its user. Renderers read this table;
 * nothing else maps codes to statuses.
 */
export interface ErrorSpec {
  status: number;
  /** Contract 000 code; defaults to the internal code. */
  c000?: string;
  /** Contract 003 code; defaults to the internal code upper-cased. */
  c003?: string;
  retryable?: boolean;
  action: string;
}

const FIX = "Fix the request and try again.";
const SIGN_IN = "Sign in again or send a valid credential.";

export const ERROR_CODES = {
  bad_request: { status: 400, c003: "VALIDATION_FAILED", action: FIX },
  validation_failed: {
    status: 422,
    c000: "validation_error",
    action: "Correct the fields listed in the error and resubmit.",
  },
  unauthenticated: { status: 401, c003: "UNAUTHORIZED", action: SIGN_IN },
  invalid_credentials: { status: 401, c003: "UNAUTHORIZED", action: "Check the username and password." },
  token_invalid: { status: 401, c003: "UNAUTHORIZED", action: SIGN_IN },
  token_expired: { status: 401, c003: "UNAUTHORIZED", action: SIGN_IN },
  token_revoked: { status: 401, c003: "UNAUTHORIZED", action: SIGN_IN },
  refresh_token_reused: {
    status: 401,
    c003: "UNAUTHORIZED",
    action: "This sign-in was ended for safety; sign in again.",
  },
  exchange_forbidden: {
    status: 401,
    c003: "UNAUTHORIZED",
    action: "Only the trusted front-end server may exchange sessions.",
  },
  generation_session_missing: { status: 401, c003: "UNAUTHORIZED", action: "Start a session with POST /auth/session." },
  generation_session_expired: {
    status: 401,
    c003: "UNAUTHORIZED",
    action: "Start a new session with POST /auth/session.",
  },
  generation_session_invalid: {
    status: 401,
    c003: "UNAUTHORIZED",
    action: "Start a new session with POST /auth/session.",
  },
  admin_session_required: {
    status: 401,
    c003: "UNAUTHORIZED",
    action: "Establish an admin session with POST /admin/session.",
  },
  admin_session_expired: {
    status: 401,
    c003: "UNAUTHORIZED",
    action: "Establish a new admin session with POST /admin/session.",
  },
  invalid_admin_key: { status: 403, c003: "FORBIDDEN", action: "Check the admin key." },
  invalid_api_key: { status: 403, c003: "FORBIDDEN", action: "Check the API key, or remove it to use your session." },
  forbidden: { status: 403, action: "This credential may not do that." },
  forbidden_scope: { status: 403, action: "Use a token granted the required scope." },
  forbidden_actor: { status: 403, action: "This action is reserved for another kind of actor." },
  csrf_failed: {
    status: 403,
    c003: "CSRF_INVALID",
    action: "Send the retaia_csrf cookie's value in the X-CSRF-Token header.",
  },
  cors_origin_blocked: { status: 403, action: "Call the API from an allowed origin." },
  not_found: { status: 404, action: "Check the identifier or path." },
  method_not_allowed: { status: 405, action: FIX },
  state_conflict: { status: 409, action: "Reload the resource and retry from its current state." },
  username_taken: { status: 400, c003: "STATE_CONFLICT", action: "Choose another username." },
  idempotency_conflict: { status: 409, action: "Use a new Idempotency-Key for a different request body." },
  idempotency_in_progress: {
    status: 409,
    retryable: true,
    action: "The first request with this Idempotency-Key is still running; retry shortly.",
  },
  purged: { status: 410, action: "The resource was deleted for good." },
  gone: { status: 410, c003: "PURGED", action: "The media expired and was deleted; generate or upload it again." },
  checksum_mismatch: {
    status: 422,
    c003: "VALIDATION_FAILED",
    action: "The bytes received do not match the checksum sent; send them again.",
  },
  upload_incomplete: {
    status: 409,
    c003: "STATE_CONFLICT",
    action: "Send the missing parts listed in the error (GET the upload to see which arrived), then complete again.",
  },
  range_not_satisfiable: {
    status: 416,
    c003: "VALIDATION_FAILED",
    action: "Ask for a range inside the object's size (see Content-Range: bytes */size).",
  },
  payload_too_large: { status: 413, action: "Send a smaller request body, or use the upload API for large files." },
  unsupported_media_type: { status: 415, c003: "VALIDATION_FAILED", action: FIX },
  lock_required: { status: 423, action: "Send the lock_token from your claim." },
  lock_invalid: { status: 423, action: "Claim the job again; your lease is no longer valid." },
  rate_limited: { status: 429, retryable: true, action: "Wait for the time in Retry-After, then retry." },
  admin_rate_limited: {
    status: 429,
    c003: "RATE_LIMITED",
    retryable: true,
    action: "Wait for the time in Retry-After, then retry.",
  },
  admin_login_rate_limited: {
    status: 429,
    c003: "RATE_LIMITED",
    retryable: true,
    action: "Wait for the time in Retry-After, then retry.",
  },
  internal_error: {
    status: 500,
    c003: "INTERNAL_ERROR",
    action: "Retry later; if it persists, report the request id.",
  },
  temporarily_unavailable: {
    status: 503,
    c003: "TEMPORARY_UNAVAILABLE",
    retryable: true,
    action: "Retry after a short wait.",
  },
  task_not_found: {
    status: 404,
    c003: "NOT_FOUND",
    action: "Check the task id: a task is visible only to the key or session that created it.",
  },
  result_not_ready: {
    status: 404,
    c003: "NOT_FOUND",
    action: "Wait until GET /status/{task_id} reports done, then fetch the result.",
  },
  preview_not_ready: {
    status: 404,
    c003: "NOT_FOUND",
    action: "Wait until GET /status/{task_id} reports done, then fetch the preview.",
  },
  result_file_missing: {
    status: 410,
    c003: "PURGED",
    action: "The file expired or was deleted; generate it again.",
  },
  active_task_limit_exceeded: {
    status: 429,
    c003: "RATE_LIMITED",
    retryable: true,
    action: "Wait for one of your generations to finish, then submit again.",
  },
  daily_task_limit_exceeded: {
    status: 429,
    c003: "RATE_LIMITED",
    retryable: true,
    action: "This session's daily generations are used up; try again tomorrow or use an API key.",
  },
  no_ready_accounts: {
    status: 503,
    c003: "TEMPORARY_UNAVAILABLE",
    retryable: true,
    action: "No GPU capacity can take this now; retry later or ask an admin to add capacity.",
  },
  admin_env_missing: {
    status: 503,
    c003: "TEMPORARY_UNAVAILABLE",
    action: "Set the ACCOUNTS_ENCRYPTION_KEY secret (32 random bytes, base64), then retry.",
  },
  deploy_rejected: {
    status: 502,
    action:
      "The provider refused the account's credentials, quota or settings, so the account was disabled: fix them, enable it and deploy again.",
  },
  pod_release_failed: {
    status: 502,
    retryable: true,
    action:
      "RunPod did not terminate the account's running pod, so nothing was changed: retry, or terminate the pod in RunPod's console (a pod already gone counts as terminated) and retry.",
  },
  deploy_unavailable: {
    status: 503,
    retryable: true,
    action: "The provider is unavailable or rate-limited; the account is marked failed. Deploy it again later.",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function specOf(code: ErrorCode): ErrorSpec {
  return ERROR_CODES[code];
}
