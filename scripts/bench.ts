/**
 * `npm run bench`: the job engine's benchmarks against a real local Worker
 * (wrangler dev over fresh state), written to bench/results.json.
 *
 *  1. Dispatch latency: a task created (POST /admin/jobs) → claimed by an idle
 *     agent long-polling GET /api/v1/jobs?wait=20; p50/p95 over ≥ 200 jobs.
 *     One job at a time, each dispatched once the previous one's submit has
 *     returned and IDLE_GAP_MS have passed, so every sample starts from a
 *     quiet system with the bridge idle, as the target describes.
 *  2. Claims/s on one JobBoard with 8 concurrent agents (each lists up to 8
 *     jobs, then claims them), against the floor route in the same run: the
 *     same authentication, then one Durable Object write. Rounds alternate
 *     floor and claims; medians are reported.
 *  3. Upload: a 200 MB file through the chunked upload API vs one direct R2
 *     put through a floor route that authenticates the same way (bench/upload.ts).
 *  4. Contract 000 under load: GET /status and POST /generate vs floor routes
 *     making the same binding calls (bench/generation.ts).
 *  5. Compose: ten uniform 720p30 clips + title + audio bed, our handler vs the
 *     original pipeline's method, plain ffmpeg on this machine (bench/compose.ts).
 *
 * BENCH_ONLY=latency,claims,upload,generation,compose runs a subset; the sections not run
 * keep their previous figures in the results file.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { benchCompose } from "../bench/compose";
import { benchGeneration } from "../bench/generation";
import { benchUpload } from "../bench/upload";
import type { Job } from "../worker/contracts/agent-protocol";
import { ROOT, startLocalWorker } from "./lib/local-worker";

const LATENCY_JOBS = Number(process.env.BENCH_LATENCY_JOBS ?? 220);
const LATENCY_WARMUP = 20;
const IDLE_GAP_MS = 100;
const CLAIM_JOBS = Number(process.env.BENCH_CLAIM_JOBS ?? 400);
const AGENTS = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FACTS = {
  duration_ms: 1,
  media_format: "mp4",
  video_codec: null,
  audio_codec: null,
  width: null,
  height: null,
  fps: null,
};

/**
 * Budgets far above what the run sends: every request still takes its token from
 * the RateLimiter object, but the measurement is of the engine, not of a 429.
 */
const BENCH_RATE_LIMITS = JSON.stringify({
  auth_ip: "100000/60",
  auth_failure: "100000/60",
  read: "1000000/60",
  write: "1000000/60",
  session_check: "1000000/60",
  agent: "1000000/60",
});

const log = (line: string) => console.log(`bench: ${line}`);

const SECTIONS = ["latency", "claims", "upload", "generation", "compose"] as const;
type Section = (typeof SECTIONS)[number];
const only = new Set((process.env.BENCH_ONLY ?? SECTIONS.join(",")).split(",") as Section[]);
// A misspelt section would silently measure nothing.
for (const name of only) if (!SECTIONS.includes(name)) throw new Error(`BENCH_ONLY: no section ${name} (${SECTIONS})`);
const UPLOAD_BYTES = Number(process.env.BENCH_UPLOAD_BYTES ?? 200_000_000);

async function main(): Promise<void> {
  const file = path.join(ROOT, "bench/results.json");
  const results: Record<string, unknown> = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  // Each section carries its own measured_at: a subset run (BENCH_ONLY) keeps the others' figures.
  Object.assign(results, {
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? "unknown",
      memory_gib: Math.round(totalmem() / 2 ** 30),
    },
    node: process.version,
    worker: "wrangler dev (workerd, local D1/DO/queues/R2)",
  });
  if (only.has("latency") || only.has("claims") || only.has("upload") || only.has("generation")) {
    log("starting a local Worker over fresh state");
    // Claim rounds never submit, so each agent may hold every job it claims across the rounds.
    const worker = await startLocalWorker({
      vars: { BENCH_ROUTES: "on", RATE_LIMITS: BENCH_RATE_LIMITS, AGENT_MAX_PARALLEL_JOBS: "256" },
    });
    try {
      const client = await setUp(worker.url, worker.creds.admin_key);
      if (only.has("latency")) {
        log("dispatch latency");
        const latency = await dispatchLatency(client);
        log(`    p50 ${latency.p50_ms.toFixed(1)} ms, p95 ${latency.p95_ms.toFixed(1)} ms over ${latency.jobs} jobs`);
        results.dispatch_latency = {
          measured_at: new Date().toISOString(),
          ...latency,
          target_p50_ms: 50,
          meets_target: latency.p50_ms < 50,
        };
      }
      if (only.has("claims")) {
        log("claims/s vs floor");
        const throughput = await claimThroughput(client);
        log(
          `    claims ${throughput.claims_per_s_median.toFixed(0)}/s, floor ${throughput.floor_per_s_median.toFixed(0)}/s, ratio ${throughput.ratio.toFixed(2)}`,
        );
        results.claims = {
          measured_at: new Date().toISOString(),
          ...throughput,
          target_ratio: 0.7,
          meets_target: throughput.ratio >= 0.7,
        };
      }
      if (only.has("upload")) {
        log(`upload ${UPLOAD_BYTES / 1e6} MB: chunked API vs one direct R2 put`);
        const upload = await benchUpload({
          url: worker.url,
          apiKey: worker.creds.api_key,
          sizeBytes: UPLOAD_BYTES,
          rounds: ROUNDS,
          concurrency: 4,
        });
        log(
          `    chunked ${upload.chunked_mb_per_s_median.toFixed(0)} MB/s, direct ${upload.direct_mb_per_s_median.toFixed(0)} MB/s, ratio ${upload.ratio.toFixed(2)}`,
        );
        results.upload = {
          measured_at: new Date().toISOString(),
          ...upload,
          target_ratio: 0.7,
          meets_target: upload.ratio >= 0.7,
        };
      }
      if (only.has("generation")) {
        log("contract 000 under load: GET /status and POST /generate vs their floors, 16 connections");
        const generation = await benchGeneration({
          url: worker.url,
          apiKey: worker.creds.api_key,
          agentTokens: [client.agents[6]?.token ?? "", client.agents[7]?.token ?? ""],
          seconds: 8,
          rounds: ROUNDS,
          connections: 16,
          settleMs: 2000,
        });
        const { status, generate, generate_free_slot: free } = generation;
        log(
          `    status ${status.requests_per_s_median.toFixed(0)}/s vs ${status.floor_per_s_median.toFixed(0)}/s (${status.ratio.toFixed(2)}), p95 ${status.p95_ms_median.toFixed(0)} ms`,
        );
        log(
          `    generate (fleet busy) ${generate.requests_per_s_median.toFixed(0)}/s vs ${generate.floor_per_s_median.toFixed(0)}/s (${generate.ratio.toFixed(2)}); with a free slot ${free.requests_per_s_median.toFixed(0)}/s vs ${free.floor_per_s_median.toFixed(0)}/s (${free.ratio.toFixed(2)})`,
        );
        results.generation = { measured_at: new Date().toISOString(), ...generation };
      }
    } finally {
      await worker.dispose();
    }
  }
  if (only.has("compose")) {
    log("compose: ten uniform 6 s 720p30 clips + title + audio bed, vs the original method");
    const dir = mkdtempSync(path.join(tmpdir(), "bench-compose-"));
    try {
      const compose = await benchCompose(dir);
      log(`    ${JSON.stringify(compose)}`);
      results.compose = {
        measured_at: new Date().toISOString(),
        ...compose,
        target_speedup: 20,
        meets_target: compose.speedup >= 20 && compose.compose_decodes_clean,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, file)}`);
}

interface Client {
  url: string;
  adminCookie: string;
  artifactId: string;
  agents: { token: string; agentId: string }[];
}

async function setUp(url: string, adminKey: string): Promise<Client> {
  const session = await fetch(`${url}/admin/session`, { method: "POST", headers: { "x-admin-key": adminKey } });
  if (session.status !== 200) throw new Error(`admin session: ${session.status} ${await session.text()}`);
  const adminCookie = (session.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const upload = await fetch(`${url}/admin/artifacts`, {
    method: "POST",
    headers: { cookie: adminCookie, "content-type": "video/mp4" },
    body: new Uint8Array(1024),
  });
  const { artifact_id: artifactId } = (await ok(upload)) as { artifact_id: string };
  const agents = [];
  for (let i = 0; i < AGENTS; i++) {
    const created = (await ok(
      await fetch(`${url}/admin/agents`, {
        method: "POST",
        headers: { cookie: adminCookie, "content-type": "application/json" },
        body: JSON.stringify({ name: `bench-agent-${i}-${Date.now()}` }),
      }),
    )) as { token: string };
    const registered = (await ok(
      await fetch(`${url}/api/v1/agents/register`, {
        method: "POST",
        headers: { authorization: `Bearer ${created.token}`, "content-type": "application/json" },
        body: JSON.stringify({
          agent_name: `bench-${i}`,
          agent_version: "bench",
          platform: process.platform,
          capabilities: ["media.facts@1"],
          max_parallel_jobs: 256,
        }),
      }),
    )) as { agent_id: string };
    agents.push({ token: created.token, agentId: registered.agent_id });
  }
  return { url, adminCookie, artifactId, agents };
}

async function dispatch(client: Client): Promise<string> {
  const response = await fetch(`${client.url}/admin/jobs`, {
    method: "POST",
    headers: { cookie: client.adminCookie, "content-type": "application/json" },
    body: JSON.stringify({ job_type: "extract_facts", inputs: { source: client.artifactId } }),
  });
  return ((await ok(response)) as { job_ids: string[] }).job_ids[0] as string;
}

function agentFetch(client: Client, index: number, pathname: string, body?: unknown): Promise<Response> {
  const agent = client.agents[index];
  if (!agent) throw new Error(`no agent ${index}`);
  return fetch(`${client.url}${pathname}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      authorization: `Bearer ${agent.token}`,
      "x-agent-id": agent.agentId,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function dispatchLatency(client: Client) {
  const claimedAt = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  const submitted = new Map<string, Promise<unknown>>();
  let running = true;
  // The idle bridge: long-polls, claims what it hears of, then submits off the clock.
  const poller = (async () => {
    while (running) {
      const response = await agentFetch(client, 0, "/api/v1/jobs?wait=20&limit=4");
      const jobs = (await response.json()) as Job[];
      for (const job of jobs) {
        const claim = await agentFetch(client, 0, `/api/v1/jobs/${job.job_id}/claim`, {});
        if (claim.status !== 200) {
          await claim.arrayBuffer();
          continue;
        }
        const at = performance.now();
        const claimed = (await claim.json()) as Job;
        claimedAt.set(job.job_id, at);
        waiting.get(job.job_id)?.(at);
        submitted.set(
          job.job_id,
          agentFetch(client, 0, `/api/v1/jobs/${job.job_id}/submit`, {
            lock_token: claimed.lock_token,
            result: { facts: FACTS },
          }).then((r) => r.arrayBuffer()),
        );
      }
    }
  })();
  const samples: number[] = [];
  const created: number[] = [];
  for (let i = 0; i < LATENCY_JOBS; i++) {
    const started = performance.now();
    const jobId = await dispatch(client);
    const answered = performance.now();
    const at = claimedAt.get(jobId) ?? (await new Promise<number>((resolve) => waiting.set(jobId, resolve)));
    if (i >= LATENCY_WARMUP) {
      samples.push(at - started);
      created.push(answered - started);
    }
    await submitted.get(jobId);
    await new Promise((resolve) => setTimeout(resolve, IDLE_GAP_MS));
  }
  running = false;
  await dispatch(client); // wakes the poller so it sees running = false
  await poller;
  samples.sort((a, b) => a - b);
  created.sort((a, b) => a - b);
  return {
    /** How much of it is the dispatch request itself (task + job written, handed off). */
    dispatch_request_p50_ms: percentile(created, 0.5),
    jobs: samples.length,
    warmup_jobs: LATENCY_WARMUP,
    idle_gap_ms: IDLE_GAP_MS,
    p50_ms: percentile(samples, 0.5),
    p95_ms: percentile(samples, 0.95),
    max_ms: samples[samples.length - 1] ?? 0,
  };
}

async function claimRound(
  client: Client,
): Promise<{ claims: number; conflicts: number; requests: number; seconds: number }> {
  for (let i = 0; i < CLAIM_JOBS; i += 8) await Promise.all(Array.from({ length: 8 }, () => dispatch(client)));
  let claims = 0;
  let conflicts = 0;
  let requests = 0;
  const started = performance.now();
  await Promise.all(
    client.agents.map(async (_, index) => {
      for (;;) {
        const listed = await agentFetch(client, index, "/api/v1/jobs?limit=8");
        requests++;
        const jobs = (await listed.json()) as Job[];
        if (jobs.length === 0) return;
        let won = 0;
        for (const job of jobs) {
          const claim = await agentFetch(client, index, `/api/v1/jobs/${job.job_id}/claim`, {});
          requests++;
          await claim.arrayBuffer();
          if (claim.status === 200) won++;
          else conflicts++;
        }
        claims += won;
        // Listed jobs none of which could be claimed: stop rather than spin on them.
        if (won === 0) return;
      }
    }),
  );
  return { claims, conflicts, requests, seconds: (performance.now() - started) / 1000 };
}

async function floorRound(client: Client, total: number): Promise<{ requests: number; seconds: number }> {
  const perAgent = Math.ceil(total / client.agents.length);
  const started = performance.now();
  await Promise.all(
    client.agents.map(async (_, index) => {
      for (let i = 0; i < perAgent; i++) {
        const response = await agentFetch(client, index, "/api/v1/bench/floor", {});
        if (response.status !== 200) throw new Error(`floor: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
  return { requests: perAgent * client.agents.length, seconds: (performance.now() - started) / 1000 };
}

async function claimThroughput(client: Client) {
  const claimRounds = [];
  const floorRounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    floorRounds.push(await floorRound(client, CLAIM_JOBS));
    claimRounds.push(await claimRound(client));
  }
  const claimsPerS = claimRounds.map((r) => r.claims / r.seconds);
  const floorPerS = floorRounds.map((r) => r.requests / r.seconds);
  const claims = median(claimsPerS);
  const floor = median(floorPerS);
  return {
    agents: AGENTS,
    jobs_per_round: CLAIM_JOBS,
    rounds: ROUNDS,
    claim_rounds: claimRounds.map((r) => ({
      ...r,
      claims_per_s: r.claims / r.seconds,
      requests_per_s: r.requests / r.seconds,
    })),
    floor_rounds: floorRounds.map((r) => ({ ...r, per_s: r.requests / r.seconds })),
    claims_per_s_median: claims,
    floor_per_s_median: floor,
    ratio: claims / floor,
  };
}

async function ok(response: Response): Promise<unknown> {
  if (response.status >= 300) throw new Error(`${response.url}: ${response.status} ${await response.text()}`);
  return response.json();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 0.5);
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
