/**
 * Some resolvers have no production route yet: contract 000's
 * X-API-Key → api_key query → gg_session precedence (authenticateGeneration,
 * for /generate, /status, /gallery… still to come), contract 002's bearer
 * access token (authenticateStory, for /api/task…) and contract 003's
 * requireScope (for the agent and decision routes). To pin their behaviour
 * now, the tests build the real app with buildApp() — the same middleware
 * stack, error handler and surfaces as production — add probe routes that use
 * the real resolver and echo the caller, and call app.request() with the real
 * bindings. When production routes land, these tests still hold.
 */
import { env } from "cloudflare:test";
import { buildApp } from "../../worker/app";
import { authenticateCatalog } from "../../worker/auth/catalog";
import { authenticateGeneration } from "../../worker/auth/media-generation";
import { requireScope } from "../../worker/auth/scopes";
import { authenticateStory } from "../../worker/auth/signed-bearer";
import { SCOPE_ACTORS, type Scope } from "../../worker/contracts/scopes";
import type { AppContext } from "../../worker/http/context";
import { callerOf } from "../../worker/http/context";
import { buildRequest, type CallOptions } from "./http";

export const PROBES = {
  /** 000 root namespace. */
  generation: "/probe/generation",
  /** 002: /api/task/… is the story surface. */
  story: "/api/task/probe",
} as const;

/** 003: /api/v1/probe/scopes/<scope with ":" as "-"> */
export const scopeProbe = (scope: Scope) => `/api/v1/probe/scopes/${scope.replace(":", "-")}`;

const echo = (c: AppContext) => {
  const caller = callerOf(c);
  return c.json({
    principal_id: caller.principal.id,
    kind: caller.principal.kind,
    via: caller.via,
    actor_kind: caller.actorKind,
  });
};

function probeApp() {
  const app = buildApp();
  app.get(PROBES.generation, authenticateGeneration(), echo);
  app.get(PROBES.story, authenticateStory(), echo);
  for (const scope of Object.keys(SCOPE_ACTORS) as Scope[]) {
    app.get(scopeProbe(scope), authenticateCatalog(), requireScope(scope), echo);
  }
  return app;
}

const app = probeApp();

export async function callProbe(path: string, options: CallOptions = {}): Promise<Response> {
  return app.request(buildRequest(path, options), undefined, env);
}
