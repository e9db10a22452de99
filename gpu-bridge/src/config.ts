/**
 * The bridge's configuration, from environment variables only (a GPU host is
 * configured by its service manager). Parsed with zod; every bad variable is
 * reported at once, so an operator fixes the unit file in one go.
 */
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { MAX_WAIT_SECONDS } from "../../worker/contracts/agent-protocol";
import type { LogMode } from "./log";

export type FaultPoint = "hold-before-run" | "hold-before-submit";

/** Test-only fault injection: hold every job at one point (heartbeats keep going) so a test can act mid-job. */
export interface Fault {
  point: FaultPoint;
  ms: number;
}

export interface Config {
  /** Origin of the Worker, without a trailing slash. */
  url: string;
  token: string | undefined;
  name: string;
  maxJobs: number;
  waitSeconds: number;
  scratchDir: string;
  logMode: LogMode;
  shutdownGraceMs: number;
  fault: Fault | null;
}

const FAULT_PATTERN = /^(hold-before-run|hold-before-submit):(\d{1,9})$/;

const envSchema = z.object({
  MEDIA_EDGE_URL: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).default("http://127.0.0.1:8787"),
  GPU_BRIDGE_TOKEN: z.string().trim().min(1).optional(),
  GPU_BRIDGE_NAME: z
    .string()
    .trim()
    .min(1)
    .max(128)
    .default(os.hostname() || "gpu-bridge"),
  GPU_BRIDGE_MAX_JOBS: z.coerce.number().int().min(1).max(256).default(2),
  GPU_BRIDGE_WAIT_S: z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS).default(20),
  GPU_BRIDGE_SCRATCH: z.string().min(1).default(path.join(os.tmpdir(), "media-edge-bridge")),
  GPU_BRIDGE_LOG: z.enum(["auto", "pretty", "json"]).default("auto"),
  GPU_BRIDGE_SHUTDOWN_GRACE_S: z.coerce.number().min(0).max(3600).default(30),
  GPU_BRIDGE_FAULT: z
    .string()
    .regex(FAULT_PATTERN, "expected hold-before-run:<ms> or hold-before-submit:<ms>")
    .optional(),
});

type EnvName = keyof typeof envSchema.shape;
const ENV_NAMES = Object.keys(envSchema.shape) as EnvName[];
/** Never echoed back in an error message. */
const SECRET_NAMES = new Set<EnvName>(["GPU_BRIDGE_TOKEN"]);

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid GPU bridge configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
  }
}

/** Parses the bridge's variables out of `env`; an empty variable counts as unset. */
export function loadConfig(env: NodeJS.ProcessEnv, options: { requireToken: boolean }): Config {
  const present = Object.fromEntries(
    ENV_NAMES.flatMap((name) => (env[name] === undefined || env[name] === "" ? [] : [[name, env[name]]])),
  );
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? "environment") as EnvName;
        const shown = SECRET_NAMES.has(name) || present[name] === undefined ? "" : `=${JSON.stringify(present[name])}`;
        return `${name}${shown}: ${issue.message}`;
      });
  if (options.requireToken && present.GPU_BRIDGE_TOKEN === undefined) {
    problems.push("GPU_BRIDGE_TOKEN: required (the agent token the Worker issued for this bridge)");
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const vars = parsed.data;
  return {
    url: vars.MEDIA_EDGE_URL.replace(/\/+$/, ""),
    token: vars.GPU_BRIDGE_TOKEN,
    name: vars.GPU_BRIDGE_NAME,
    maxJobs: vars.GPU_BRIDGE_MAX_JOBS,
    waitSeconds: vars.GPU_BRIDGE_WAIT_S,
    scratchDir: path.resolve(vars.GPU_BRIDGE_SCRATCH),
    logMode: vars.GPU_BRIDGE_LOG,
    shutdownGraceMs: Math.round(vars.GPU_BRIDGE_SHUTDOWN_GRACE_S * 1000),
    fault: parseFault(vars.GPU_BRIDGE_FAULT),
  };
}

function parseFault(value: string | undefined): Fault | null {
  const match = value === undefined ? null : FAULT_PATTERN.exec(value);
  if (!match) return null;
  const point: FaultPoint = match[1] === "hold-before-run" ? "hold-before-run" : "hold-before-submit";
  return { point, ms: Number(match[2]) };
}
