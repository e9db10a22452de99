/**
 * Contract 003's scopes and which kind of actor may hold each. Agents are
 * strictly limited to jobs and suggestions; decisions, moves, purge and human
 * edits are for humans. No runtime imports: the seed script and, later, the GPU
 * bridge read this table too.
 */
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

const allScopes = Object.keys(SCOPE_ACTORS) as Scope[];
export const HUMAN_SCOPES = allScopes.filter((scope) => SCOPE_ACTORS[scope] !== "agent");
export const AGENT_SCOPES = allScopes.filter((scope) => SCOPE_ACTORS[scope] !== "human");
