/**
 * Request body caps. Every route gets the global ceiling (MAX_BODY_BYTES);
 * routes that expect small bodies, such as logins, declare a tighter cap.
 * Over the cap: 413 in the surface's error shape, before the body is parsed.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { configFrom } from "../config";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";

export const KiB = 1024;

export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `Request body exceeds ${maxBytes} bytes`, {
        details: { max_bytes: maxBytes },
      });
    },
  });
}

/**
 * Routes that stream a large body straight to R2 and bound it themselves
 * (a declared size checked against a configured cap, enforced byte for byte).
 */
const STREAMED_UPLOADS =
  /^POST (\/admin\/artifacts|\/uploads\/part|\/bench\/put|\/api\/v1\/jobs\/[^/]+\/outputs\/part)$/;
/** Routes whose own limitBody is larger than the ceiling: POST /generate carries images as data URIs. */
const OWN_CAP = /^POST \/generate$/;

/** The global ceiling, read from configuration per request. */
export function limitBodyByConfig(): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const route = `${c.req.method} ${c.req.path}`;
    if (STREAMED_UPLOADS.test(route) || OWN_CAP.test(route)) return next();
    return limitBody(configFrom(c.env).MAX_BODY_BYTES)(c, next);
  };
}
