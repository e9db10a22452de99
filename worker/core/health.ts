/**
 * Real readiness checks behind every health route: a D1 query and an R2 round
 * trip. Each check reports its own state and latency; none throws.
 */
export interface Check {
  ok: boolean;
  latency_ms: number;
}

async function timed(probe: () => Promise<unknown>): Promise<Check> {
  const started = Date.now();
  try {
    await probe();
    return { ok: true, latency_ms: Date.now() - started };
  } catch (error) {
    console.error(JSON.stringify({ level: "error", check: "health", error: String(error) }));
    return { ok: false, latency_ms: Date.now() - started };
  }
}

export async function checkDependencies(env: Env): Promise<{ database: Check; storage: Check }> {
  const [database, storage] = await Promise.all([
    timed(() => env.DB.prepare("SELECT 1").first()),
    timed(() => env.MEDIA.head("health/probe")),
  ]);
  return { database, storage };
}

/** The newest migration applied to D1, from wrangler's own bookkeeping table. */
export async function appliedMigration(env: Env): Promise<string | null> {
  try {
    const row = await env.DB.prepare("SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1").first<{
      name: string;
    }>();
    return row?.name ?? null;
  } catch {
    return null;
  }
}
