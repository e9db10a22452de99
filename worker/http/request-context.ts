/**
 * The first middleware: gives every request an id (echoed in X-Request-Id and,
 * for 003, as the correlation id), its contract surface, and the client address.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { surfaceForPath } from "../errors/surface";

export function requestContext(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("surface", surfaceForPath(c.req.path));
    // Cloudflare sets CF-Connecting-IP at the edge and overwrites any client value.
    c.set("clientIp", c.req.header("cf-connecting-ip") ?? "unknown");
    await next();
    c.res.headers.set("X-Request-Id", requestId);
  };
}
