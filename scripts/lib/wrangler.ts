/** Running wrangler from scripts: its own entry, with this Node (22), whatever `node` is on PATH. */
import { spawnSync } from "node:child_process";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");

/**
 * The environment wrangler runs in. Local dev would fetch `request.cf` from
 * workers.cloudflare.com at start: offline (and here nothing but the npm
 * registry is reachable) that prints a stack trace, then uses the placeholder
 * it would get with the fetch disabled anyway.
 */
export const WRANGLER_ENV = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false" };

/**
 * Runs a one-shot wrangler command, quietly unless it fails. stdin is not a
 * TTY and CI=1, so wrangler takes its non-interactive path: `d1 migrations
 * apply` answers its own "continue?" prompt with yes instead of waiting.
 */
export function wranglerSync(args: string[]): void {
  const result = spawnSync(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    env: { ...WRANGLER_ENV, CI: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.status !== 0) {
    throw new Error(
      `wrangler ${args.slice(0, 3).join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout ?? ""}${result.stderr ?? ""}`,
    );
  }
}
