/**
 * Scratch space. Each bridge process works under <root>/bridge-<pid>, one
 * mkdtemp dir per job, removed when the job ends. A bridge that was killed
 * (SIGKILL, OOM, power) cannot clean up, so at startup we remove the dirs of
 * bridge processes that no longer exist, leaving live neighbours alone.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";

export async function prepareScratch(root: string): Promise<{ dir: string; swept: string[] }> {
  await mkdir(root, { recursive: true });
  const swept: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const pid = /^bridge-(\d+)$/.exec(entry.name)?.[1];
    if (!entry.isDirectory() || pid === undefined || Number(pid) === process.pid || isAlive(Number(pid))) continue;
    await rm(path.join(root, entry.name), { recursive: true, force: true });
    swept.push(entry.name);
  }
  const dir = path.join(root, `bridge-${process.pid}`);
  await mkdir(dir, { recursive: true });
  return { dir, swept };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return error instanceof Error && "code" in error && error.code === "EPERM";
  }
}

/** Removes this process's scratch dir on the way out. */
export async function removeScratch(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
}
