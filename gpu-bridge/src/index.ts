/**
 * The GPU bridge's entry point. The job-engine issue fills this in: register,
 * long-poll, claim, heartbeat, run handlers in scratch dirs, submit.
 */
export const BRIDGE_PROTOCOL = "contract-003-agent-v1";
