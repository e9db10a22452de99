/**
 * The scope guard for contract 003 routes; the scope table itself is in
 * worker/contracts/scopes.ts.
 */
import type { MiddlewareHandler } from "hono";
import { SCOPE_ACTORS, type Scope } from "../contracts/scopes";
import type { AppEnv } from "../env";
import { ApiError } from "../errors/api-error";
import { callerOf } from "../http/context";

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
