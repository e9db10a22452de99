/**
 * What the agent routes need to know about the calling bridge: its
 * registration (capabilities) and the reference boards record it under.
 */
import { configFrom } from "../../config";
import { AGENT_ID_HEADER } from "../../contracts/agent-protocol";
import { type JobType, runnableJobTypes } from "../../contracts/job-types";
import { findRegistration, type Registration } from "../../core/agents";
import type { AgentRef } from "../../core/jobs/types";
import { ApiError } from "../../errors/api-error";
import { type AppContext, callerOf, db } from "../../http/context";

export interface AgentCaller {
  registration: Registration;
  ref: AgentRef;
  jobTypes: JobType[];
}

export async function agentOf(c: AppContext): Promise<AgentCaller> {
  const caller = callerOf(c);
  const agentId = c.req.header(AGENT_ID_HEADER) || undefined;
  const registration = await findRegistration(db(c), caller.principal.id, agentId);
  if (!registration) {
    throw new ApiError(
      "state_conflict",
      agentId
        ? `No registration ${agentId} for this agent: register again with POST /api/v1/agents/register`
        : "Register this agent first with POST /api/v1/agents/register",
      { details: { agent_id: agentId ?? null } },
    );
  }
  return {
    registration,
    ref: {
      agentId: registration.id,
      principalId: caller.principal.id,
      capacityAccountId: caller.principal.capacityAccountId,
      maxParallel: Math.min(configFrom(c.env).AGENT_MAX_PARALLEL_JOBS, registration.maxParallelJobs),
    },
    jobTypes: runnableJobTypes(registration.capabilities),
  };
}
