/**
 * Installs what `npm start` and `npm test` need, before anything else runs.
 * Plain ESM with no dependencies, so it works under the system Node (20+) on a
 * fresh clone that has no node_modules yet. Quiet and instant when nothing is
 * missing; prints a line for each thing it does.
 *   1. npm dependencies: `npm ci` (`npm install` if there is no lockfile or
 *      npm ci refuses it) when node_modules is missing or older than package-lock.json.
 *   2. Debian packages ffmpeg and espeak-ng, for media work on this machine:
 *      apt-get as root, else through `sudo -n`; otherwise a warning, not a failure.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync, utimesSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
/** Command on PATH → the Debian package that provides it. */
const DEBIAN_PACKAGES = { ffmpeg: "ffmpeg", "espeak-ng": "espeak-ng" };

const log = (line) => console.log(`bootstrap: ${line}`);
const mtime = (file) => (existsSync(file) ? statSync(file).mtimeMs : 0);

/** Runs a command; with `quiet`, its output is shown only if it fails. */
function run(command, args, { quiet = false } = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: quiet ? "pipe" : "inherit" });
  if (quiet && result.status !== 0) process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`);
  return result.status === 0;
}

const succeeds = (command, args) => spawnSync(command, args, { cwd: root, stdio: "ignore" }).status === 0;

function onPath(command) {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function installNodeModules() {
  const lockfile = path.join(root, "package-lock.json");
  const installed = path.join(root, "node_modules", ".package-lock.json");
  const source = existsSync(lockfile) ? lockfile : path.join(root, "package.json");
  if (existsSync(installed) && mtime(installed) >= mtime(source)) return;
  log("installing npm dependencies");
  // npm ci installs exactly the lockfile but refuses one that lacks other platforms' optional
  // packages, as lockfiles made against a registry mirror without them do; npm install then
  // installs the same locked versions and records what was missing.
  const viaCi = existsSync(lockfile) && succeeds("npm", ["ci"]);
  if (!viaCi) {
    if (existsSync(lockfile)) log("npm ci refused package-lock.json; using npm install");
    if (!run("npm", ["install"])) throw new Error("npm install failed");
  }
  // npm may write package-lock.json after its own record; mark this install as current.
  const now = new Date();
  utimesSync(installed, now, now);
}

function installDebianPackages() {
  const missing = Object.entries(DEBIAN_PACKAGES)
    .filter(([command]) => !onPath(command))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const warn = (why) =>
    console.warn(`bootstrap: warning: ${missing.join(", ")} not installed (${why}); local media processing needs them`);
  if (!onPath("apt-get")) return warn("no apt-get on this system; install them with your package manager");
  const asRoot = process.getuid?.() === 0;
  if (!asRoot && !(onPath("sudo") && succeeds("sudo", ["-n", "true"]))) {
    return warn(`not root and no password-less sudo; run: sudo apt-get install ${missing.join(" ")}`);
  }
  const prefix = asRoot ? [] : ["sudo", "-n"];
  const apt = (...args) => {
    const [command, ...rest] = [...prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", ...args];
    return run(command, rest, { quiet: true });
  };
  log(`installing Debian packages: ${missing.join(", ")} (apt-get, may take a minute)`);
  if (!apt("update") || !apt("install", "-y", "--no-install-recommends", ...missing)) warn("apt-get failed");
}

try {
  installNodeModules();
  installDebianPackages();
} catch (error) {
  console.error(`bootstrap: ${error.message}`);
  process.exit(1);
}
