/**
 * Contract 003's scopes and who may hold them. Agents are strictly limited to
 * jobs and suggestions; decisions, moves, purge and human edits are for humans.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";
import { callerOf } from "../http/context";

export const SCOPE_ACTORS = {
  "assets:read": "any",
  "assets:write": "human",
  "decisions:write": "human",
  "jobs:claim": "agent",
  "jobs:heartbeat": "agent",
  "jobs:submit": "agent",
  "suggestions:write": "any",
  "batches:execute": "human",
  "purge:execute": "human",
} as const;

export type Scope = keyof typeof SCOPE_ACTORS;

export const HUMAN_SCOPES = (Object.keys(SCOPE_ACTORS) as Scope[]).filter((scope) => SCOPE_ACTORS[scope] !== "agent");
export const AGENT_SCOPES = (Object.keys(SCOPE_ACTORS) as Scope[]).filter((scope) => SCOPE_ACTORS[scope] !== "human");

/** Refuses with FORBIDDEN_ACTOR when the wrong kind of actor asks, FORBIDDEN_SCOPE when the grant lacks it. */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const caller = callerOf(c);
    const allowed = SCOPE_ACTORS[scope];
    if (allowed !== "any" && allowed !== caller.actorKind) {
      throw new ApiError("forbidden_actor", `${scope} is reserved for ${allowed}s`, {
        details: { required_actor: allowed, actor: caller.actorKind },
      });
    }
    if (!caller.scopes.includes(scope)) {
      throw new ApiError("forbidden_scope", `This token lacks the ${scope} scope`, {
        details: { required_scope: scope },
      });
    }
    await next();
  };
}
