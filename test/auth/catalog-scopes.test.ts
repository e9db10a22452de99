/**
 * Contract 003 scopes: agents are limited to jobs and suggestions, humans hold
 * the rest. requireScope has no production route yet, so it is pinned through
 * probe routes on the real app (see helpers/probe.ts): 403 FORBIDDEN_ACTOR when
 * the wrong kind of actor asks, 403 FORBIDDEN_SCOPE when the grant lacks it.
 */
import { describe, expect, it } from "vitest";
import { AGENT_SCOPES, HUMAN_SCOPES, SCOPE_ACTORS, type Scope } from "../../worker/contracts/scopes";
import { makeAgent, makeUiSession, makeUser } from "../helpers/fixtures";
import { expect003 } from "../helpers/http";
import { callProbe, scopeProbe } from "../helpers/probe";

const SCOPES = Object.keys(SCOPE_ACTORS) as Scope[];
const HUMAN_ONLY = SCOPES.filter((scope) => SCOPE_ACTORS[scope] === "human");
const AGENT_ONLY = SCOPES.filter((scope) => SCOPE_ACTORS[scope] === "agent");

describe("003 requireScope (probe routes)", () => {
  it("the scope table matches the contract: agents get jobs and suggestions, never decisions, moves or purge", () => {
    expect(AGENT_SCOPES).toEqual(["assets:read", "jobs:claim", "jobs:heartbeat", "jobs:submit", "suggestions:write"]);
    expect(HUMAN_ONLY).toEqual(["assets:write", "decisions:write", "batches:execute", "purge:execute"]);
    expect(HUMAN_SCOPES).not.toEqual(expect.arrayContaining(AGENT_ONLY));
  });

  it("an agent token passes every scope it holds", async () => {
    const agent = await makeAgent();
    for (const scope of AGENT_SCOPES) {
      const response = await callProbe(scopeProbe(scope), { bearer: agent.token });
      expect(response.status, scope).toBe(200);
      expect(await response.json()).toMatchObject({ principal_id: agent.agentId, actor_kind: "agent" });
    }
  });

  it("an agent token on a human-only scope is 403 FORBIDDEN_ACTOR naming the required actor", async () => {
    const agent = await makeAgent();
    for (const scope of HUMAN_ONLY) {
      const body = await expect003(await callProbe(scopeProbe(scope), { bearer: agent.token }), 403, "FORBIDDEN_ACTOR");
      expect(body.details).toEqual({ required_actor: "human", actor: "agent" });
    }
  });

  it("even an agent token granted a human-only scope is refused with FORBIDDEN_ACTOR", async () => {
    const agent = await makeAgent(["decisions:write", "purge:execute"] as Scope[]);
    for (const scope of ["decisions:write", "purge:execute"] as const) {
      await expect003(await callProbe(scopeProbe(scope), { bearer: agent.token }), 403, "FORBIDDEN_ACTOR");
    }
  });

  it("an agent token lacking a scope it could hold is 403 FORBIDDEN_SCOPE naming the scope", async () => {
    const agent = await makeAgent(["jobs:claim"]);
    expect((await callProbe(scopeProbe("jobs:claim"), { bearer: agent.token })).status).toBe(200);
    for (const scope of ["jobs:submit", "suggestions:write", "assets:read"] as const) {
      const body = await expect003(await callProbe(scopeProbe(scope), { bearer: agent.token }), 403, "FORBIDDEN_SCOPE");
      expect(body.details).toEqual({ required_scope: scope });
    }
  });

  it("a UI session passes every human and shared scope", async () => {
    const user = await makeUser();
    const session = await makeUiSession(user.id);
    for (const scope of HUMAN_SCOPES) {
      const response = await callProbe(scopeProbe(scope), { cookies: { retaia_session: session.secret } });
      expect(response.status, scope).toBe(200);
      expect(await response.json()).toMatchObject({ principal_id: user.id, actor_kind: "human", via: "ui_session" });
    }
  });

  it("a UI session on an agent-only scope is 403 FORBIDDEN_ACTOR", async () => {
    const user = await makeUser();
    const session = await makeUiSession(user.id);
    for (const scope of AGENT_ONLY) {
      const response = await callProbe(scopeProbe(scope), { cookies: { retaia_session: session.secret } });
      const body = await expect003(response, 403, "FORBIDDEN_ACTOR");
      expect(body.details).toEqual({ required_actor: "agent", actor: "human" });
    }
  });

  it("without a credential the scope check is never reached: 401 UNAUTHORIZED", async () => {
    await expect003(await callProbe(scopeProbe("assets:read")), 401, "UNAUTHORIZED");
  });
});
