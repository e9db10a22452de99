/**
 * Per-request helpers used by routes and middleware: the caller, the client
 * address, the database handle and audit writing with request metadata.
 */
import type { Context } from "hono";
import { recordAudit } from "../core/audit";
import { type Database, database } from "../db/client";
import type { AppEnv, Caller } from "../env";
import { ApiError } from "../errors/api-error";

export type AppContext = Context<AppEnv>;

export function db(c: AppContext): Database {
  return database(c.env.DB);
}

/** The authenticated caller; routes behind an authenticate middleware may rely on it. */
export function callerOf(c: AppContext): Caller {
  const caller = c.get("caller");
  if (!caller) throw new ApiError("unauthenticated", "Not authenticated");
  return caller;
}

function actorLabel(caller: Caller | undefined): string {
  return caller ? `${caller.principal.kind}:${caller.principal.id}` : "anonymous";
}

export async function audit(
  c: AppContext,
  event: {
    action: string;
    success: boolean;
    target?: string;
    details?: Record<string, unknown>;
    /** For refusals where the principal is known but not admitted (CSRF mismatch, refresh reuse). */
    principalId?: number;
  },
): Promise<void> {
  const caller = c.get("caller");
  await recordAudit(db(c), {
    action: event.action,
    success: event.success,
    target: event.target,
    details: event.details,
    actor: actorLabel(caller),
    principalId: caller?.principal.id ?? event.principalId,
    ip: c.get("clientIp"),
    requestId: c.get("requestId"),
  });
}

export function isHttps(c: AppContext): boolean {
  return new URL(c.req.url).protocol === "https:";
}

/** Methods that change nothing, and so need no CSRF token. */
export function readonly(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS";
}
