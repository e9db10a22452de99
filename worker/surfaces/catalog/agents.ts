/**
 * Contract 003 §4: POST /api/v1/agents/register. Each bridge process
 * registers on start with the capabilities it detected and gets its agent_id
 * and the server's policy (lease, heartbeat period, poll limits, the job types
 * it can run).
 */
import { createRoute } from "@hono/zod-openapi";
import { authenticateCatalog } from "../../auth/catalog";
import { requireScope } from "../../auth/scopes";
import { type Config, configFrom } from "../../config";
import {
  MAX_WAIT_SECONDS,
  registerAgentSchema,
  registeredAgentSchema,
  type ServerPolicy,
} from "../../contracts/agent-protocol";
import { runnableJobTypes } from "../../contracts/job-types";
import { bridgeRegistered } from "../../core/accounts/liveness";
import { registerBridge } from "../../core/agents";
import { errors003 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { callerOf, db } from "../../http/context";
import { router } from "../../http/router";

const tags = ["Agents (003)"];

export function serverPolicy(config: Config, capabilities: readonly string[], maxParallel: number): ServerPolicy {
  return {
    min_poll_interval_seconds: config.AGENT_MIN_POLL_S,
    max_parallel_jobs_allowed: Math.min(config.AGENT_MAX_PARALLEL_JOBS, maxParallel),
    allowed_job_types: runnableJobTypes(capabilities),
    lease_seconds: config.JOB_LEASE_S,
    heartbeat_interval_seconds: config.JOB_HEARTBEAT_S,
    max_wait_seconds: MAX_WAIT_SECONDS,
  };
}

export const agents = router();

agents.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/agents/register",
    tags,
    summary: "Register a bridge process: its capabilities in, its agent_id and the server policy out",
    security: [{ Bearer: [] }],
    middleware: [limitBody(16 * KiB), authenticateCatalog(), requireScope("jobs:claim")] as const,
    request: { body: { content: { "application/json": { schema: registerAgentSchema } }, required: true } },
    responses: {
      201: { content: { "application/json": { schema: registeredAgentSchema } }, description: "Registered" },
      401: errors003("UNAUTHORIZED"),
      403: errors003("FORBIDDEN_SCOPE / FORBIDDEN_ACTOR"),
      422: errors003("VALIDATION_FAILED"),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const { principal } = callerOf(c);
    const registration = await registerBridge(db(c), principal.id, input);
    bridgeRegistered(principal.capacityAccountId);
    return c.json(
      {
        agent_id: registration.id,
        server_policy: serverPolicy(configFrom(c.env), registration.capabilities, registration.maxParallelJobs),
      },
      201,
    );
  },
);
