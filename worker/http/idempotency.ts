/**
 * The Idempotency-Key middleware for create/mutate routes; it runs after the
 * route's authentication. Same key + same request → the stored response, marked
 * `Idempotent-Replayed: true`; same key + different body → 409
 * idempotency_conflict; same key while the first is still running → 409 with
 * Retry-After, and the work runs once. Outcomes below 500 (refusals included)
 * are stored; server errors free the key for a retry.
 */
import type { MiddlewareHandler } from "hono";
import { sha256Hex } from "../auth/crypto";
import { configFrom } from "../config";
import { complete, release, reserve } from "../core/idempotency";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";
import { callerOf, db } from "./context";

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function idempotent(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new ApiError("bad_request", "Idempotency-Key must be 1–255 visible ASCII characters");
    }
    const caller = callerOf(c);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const fingerprint = {
      principalId: caller.principal.id,
      key,
      method: c.req.method,
      path: c.req.path,
      bodyHash: await sha256Hex(body),
    };
    const reservation = await reserve(db(c), fingerprint, configFrom(c.env).IDEMPOTENCY_TTL_S);
    switch (reservation.kind) {
      case "conflict":
        throw new ApiError("idempotency_conflict", "This Idempotency-Key was used with a different request");
      case "in_progress":
        throw new ApiError("idempotency_in_progress", "A request with this Idempotency-Key is still running", {
          retryAfterSeconds: 1,
        });
      case "replay":
        return new Response(reservation.body, {
          status: reservation.status,
          headers: {
            ...(reservation.contentType ? { "Content-Type": reservation.contentType } : {}),
            "Idempotent-Replayed": "true",
          },
        });
    }
    // Hono turns a thrown error into c.res before next() returns, so one check covers both.
    await next();
    if (c.res.status >= 500) {
      await release(db(c), fingerprint);
      return;
    }
    const stored = c.res.clone();
    await complete(db(c), fingerprint, {
      status: stored.status,
      contentType: stored.headers.get("content-type"),
      body: await stored.text(),
    });
  };
}
