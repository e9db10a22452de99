/**
 * `gpu-bridge doctor`: what this host can do and whether the Worker accepts
 * us, checked rather than assumed. NVENC counts only if a tiny test encode
 * works: ffmpeg lists h264_nvenc wherever it was built with it, GPU or not
 * (and H100/A100 have no NVENC at all).
 */

import type { Config } from "./config";
import { toolVersion } from "./ffmpeg";
import { detectHandlers, runnable } from "./handlers/index";
import type { Handler } from "./handlers/types";
import { listEncoders, nvencTest } from "./media/encoders";
import { describeProviders } from "./providers/config";
import { BRIDGE_NAME, BRIDGE_VERSION, USER_AGENT } from "./version";

const ENCODERS_OF_INTEREST = ["libx264", "h264_nvenc", "hevc_nvenc", "aac", "libmp3lame", "libopus", "png", "mjpeg"];

export interface DoctorReport {
  bridge: { package: string; version: string; node: string };
  tools: { ffmpeg: string | null; ffprobe: string | null; espeak_ng: string | null };
  encoders: Record<string, boolean>;
  nvenc: { listed: boolean; works: boolean; detail: string };
  providers: string[];
  capabilities: { capability: string; job_type: string; available: boolean; detail: string }[];
  would_register: string[];
  server: { url: string; reachable: boolean; detail: string; token: string };
  problems: string[];
}

export async function runDoctor(config: Config, handlers: readonly Handler[]): Promise<DoctorReport> {
  const [ffmpeg, ffprobe, espeak, encoders, detected, server] = await Promise.all([
    toolVersion("ffmpeg"),
    toolVersion("ffprobe"),
    toolVersion("espeak-ng", undefined, ["--version"]),
    encodersOfInterest(),
    detectHandlers(handlers),
    checkServer(config),
  ]);
  const nvenc = await checkNvenc(encoders.h264_nvenc === true);
  const capabilities = detected.map(({ handler, detection }) => ({
    capability: handler.capability,
    job_type: handler.jobType,
    available: detection.available,
    detail: detection.detail,
  }));
  const wouldRegister = runnable(detected).capabilities;
  const problems: string[] = [];
  if (!ffmpeg) problems.push("ffmpeg not found: install it (apt-get install ffmpeg)");
  if (wouldRegister.length === 0) problems.push("no handler can run here, so the bridge would get no jobs");
  if (!server.reachable) problems.push(`the Worker at ${config.url} is not reachable: ${server.detail}`);
  if (server.token.startsWith("rejected")) problems.push(`the Worker rejects GPU_BRIDGE_TOKEN: ${server.token}`);
  return {
    bridge: { package: BRIDGE_NAME, version: BRIDGE_VERSION, node: process.version },
    tools: { ffmpeg, ffprobe, espeak_ng: espeak },
    encoders,
    nvenc,
    providers: describeProviders(),
    capabilities,
    would_register: wouldRegister,
    server,
    problems,
  };
}

async function encodersOfInterest(): Promise<Record<string, boolean>> {
  // No ffmpeg: every encoder is absent, and the report says ffmpeg is missing.
  const found = await listEncoders().catch(() => new Set<string>());
  return Object.fromEntries(ENCODERS_OF_INTEREST.map((name) => [name, found.has(name)]));
}

/** The same test encode the proxy handler trusts before it uses NVENC. */
async function checkNvenc(listed: boolean): Promise<DoctorReport["nvenc"]> {
  if (!listed) return { listed, works: false, detail: "ffmpeg has no h264_nvenc encoder" };
  return { listed, ...(await nvencTest()) };
}

async function checkServer(config: Config): Promise<DoctorReport["server"]> {
  const base = { url: config.url, reachable: false, detail: "", token: config.token ? "unchecked" : "not set" };
  try {
    const health = await fetch(`${config.url}/health`, {
      headers: { "user-agent": USER_AGENT },
      signal: AbortSignal.timeout(5000),
    });
    await health.body?.cancel();
    base.reachable = true;
    base.detail = `GET /health ${health.status}`;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return { ...base, detail: `${error instanceof Error ? error.message : String(error)}${cause}` };
  }
  if (!config.token) return base;
  // A non-waiting list is the one agent call that changes nothing on the Worker.
  const response = await fetch(`${config.url}/api/v1/jobs?wait=0&limit=1`, {
    headers: { authorization: `Bearer ${config.token}`, accept: "application/json", "user-agent": USER_AGENT },
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  await response?.body?.cancel();
  if (!response) return { ...base, token: "unchecked (GET /api/v1/jobs got no answer)" };
  if (response.ok) return { ...base, token: `accepted (GET /api/v1/jobs ${response.status})` };
  if (response.status === 401) return { ...base, token: "rejected (401)" };
  // The token passed; the Worker just has no registration for it yet (the bridge registers on start).
  if (response.status === 409) return { ...base, token: "accepted (not registered yet: GET /api/v1/jobs 409)" };
  if (response.status === 403) return { ...base, token: "rejected (403: the token lacks the jobs:* scopes)" };
  return { ...base, token: `unclear: GET /api/v1/jobs answered ${response.status}` };
}

export function formatDoctor(report: DoctorReport): string {
  const yes = (value: boolean) => (value ? "yes" : "no");
  const encoders = Object.entries(report.encoders)
    .filter(([, present]) => present)
    .map(([name]) => name);
  const lines = [
    `gpu-bridge doctor (${report.bridge.package} ${report.bridge.version}, node ${report.bridge.node})`,
    `  ffmpeg        ${report.tools.ffmpeg ?? "not found"}`,
    `  ffprobe       ${report.tools.ffprobe ?? "not found"}`,
    `  espeak-ng     ${report.tools.espeak_ng ?? "not found"}`,
    `  encoders      ${encoders.join(" ") || "none"}`,
    `  nvenc         ${report.nvenc.works ? "works" : "unavailable"} (${report.nvenc.detail})`,
    `  providers     ${report.providers.join(", ") || "none configured"}`,
    "  capabilities",
    ...report.capabilities.map(
      (c) => `    ${c.capability.padEnd(16)} ${c.job_type.padEnd(16)} ${yes(c.available).padEnd(4)} ${c.detail}`,
    ),
    `  would register ${JSON.stringify(report.would_register)}`,
    `  server        ${report.server.url}: ${report.server.reachable ? "reachable" : "unreachable"} (${report.server.detail})`,
    `  token         ${report.server.token}`,
    report.problems.length === 0
      ? "no problems found"
      : `problems:\n${report.problems.map((p) => `  - ${p}`).join("\n")}`,
  ];
  return `${lines.join("\n")}\n`;
}
