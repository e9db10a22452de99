/**
 * gpu-bridge CLI.
 *   run (default)   register with the Worker and work jobs until SIGTERM/SIGINT
 *   doctor [--json] report tools, encoders, capabilities and server access
 * Exit codes: 0 stopped cleanly, 1 fatal (bad token, registration refused,
 * crash), 2 bad usage or configuration.
 */
import { AgentClient } from "./client";
import { type Config, ConfigError, loadConfig } from "./config";
import { formatDoctor, runDoctor } from "./doctor";
import { HANDLERS } from "./handlers/index";
import { createLogger, flushStdout, type Logger } from "./log";
import { Runner } from "./runner";
import { USER_AGENT } from "./version";

const USAGE = `usage: gpu-bridge [run | doctor [--json] | help]
Configuration comes from the environment; see gpu-bridge/README.md.
`;

async function run(): Promise<number> {
  const config = loadConfig(process.env, { requireToken: true });
  const log = createLogger(config.logMode);
  warnIfPlaintext(config, log);
  if (!config.token) throw new ConfigError(["GPU_BRIDGE_TOKEN: required"]);
  const client = new AgentClient({ baseUrl: config.url, token: config.token, userAgent: USER_AGENT });
  const runner = new Runner({ config, client, handlers: HANDLERS, log });
  // First signal drains, a second one fails running jobs at once (see Runner.stop).
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(signal, () => {
      log.event("bridge.signal", { signal });
      runner.stop();
    });
  }
  return runner.run();
}

async function doctor(json: boolean): Promise<number> {
  const config = loadConfig(process.env, { requireToken: false });
  const report = await runDoctor(config, HANDLERS);
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
  return report.problems.length === 0 ? 0 : 1;
}

/** The token is a bearer secret: over plain HTTP it is only safe on this host. */
function warnIfPlaintext(config: Config, log: Logger): void {
  const url = new URL(config.url);
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol === "http:" && !loopback) {
    log.event("bridge.insecure_url", { url: config.url, detail: "the agent token travels unencrypted" }, "warn");
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = "run", ...rest] = argv;
  try {
    if (command === "run" && rest.length === 0) return await run();
    if (command === "doctor" && rest.every((arg) => arg === "--json")) return await doctor(rest.includes("--json"));
    if (command === "help" || command === "--help" || command === "-h") {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`gpu-bridge: unknown command ${JSON.stringify(argv.join(" "))}\n${USAGE}`);
    return 2;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gpu-bridge: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

main(process.argv.slice(2))
  .catch((error: unknown) => {
    process.stderr.write(`gpu-bridge: crashed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    return 1;
  })
  .then(async (code) => {
    await flushStdout();
    // Exit explicitly: fetch keeps idle keep-alive sockets open for a while after the last call.
    process.exit(code);
  });
