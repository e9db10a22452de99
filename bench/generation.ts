/**
 * Contract 000 under load (autocannon, 16 connections): `GET /status/{id}` and
 * `POST /generate`, each against a floor route in the same run that makes
 * only the same binding calls after the same authentication — one D1 read
 * (`GET /bench/read/{id}`), and one D1 insert plus one queue send
 * (`POST /bench/write`). Rounds alternate floor and route; medians reported.
 * Latency percentiles come from every response's own time.
 *
 * The fleet is one bench bridge holding a job at its max_parallel of 1: alive
 * but busy, the load case (requests arriving faster than GPUs finish). Then
 * /generate persists the task and queues the job, which the consumer boards
 * in batches. Each round's /status target is a task queued moments before.
 * A last phase adds a bridge with free slots: /generate then also hands each
 * job to its board directly (one more Durable Object write, so a free bridge
 * takes it at its next poll); measured and reported beside, not as the target.
 */
import autocannon from "autocannon";

export interface GenerationBenchOptions {
  url: string;
  apiKey: string;
  /** Two registered agent tokens: a busy bridge, then one with free slots. */
  agentTokens: [string, string];
  seconds: number;
  rounds: number;
  connections: number;
  /** Pause between runs, so one run's background work (queue batches) does not load the next. */
  settleMs: number;
}

const GENERATE_BODY = JSON.stringify({
  model: "flux",
  type: "image",
  mode: "txt2img",
  prompt: "a lighthouse at dusk",
  width: 256,
  height: 256,
});

interface Run {
  requests_per_s: number;
  p50_ms: number;
  p95_ms: number;
  non_2xx: number;
}

export async function benchGeneration(options: GenerationBenchOptions) {
  const { url, apiKey } = options;
  const headers = { "x-api-key": apiKey, "content-type": "application/json" };
  const generateOne = async () => {
    const created = await fetch(`${url}/generate`, { method: "POST", headers, body: GENERATE_BODY });
    if (!created.ok) throw new Error(`generate: ${created.status} ${await created.text()}`);
    return ((await created.json()) as { task_id: string }).task_id;
  };
  const busy = await bridge(url, options.agentTokens[0], 1);
  await busy.poll();
  await busy.hold(await generateOne());

  const rounds = {
    status: [] as Run[],
    read_floor: [] as Run[],
    generate: [] as Run[],
    write_floor: [] as Run[],
    generate_free_slot: [] as Run[],
    write_floor_free_slot: [] as Run[],
  };
  const run = async (into: Run[], request: Request) => {
    await busy.keepAlive();
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    into.push(await load(options, request));
  };
  for (let round = 0; round < options.rounds; round++) {
    const taskId = await generateOne();
    await run(rounds.read_floor, { path: `/bench/read/${taskId}`, method: "GET", headers });
    await run(rounds.status, { path: `/status/${taskId}`, method: "GET", headers });
    await run(rounds.write_floor, { path: "/bench/write", method: "POST", headers });
    await run(rounds.generate, { path: "/generate", method: "POST", headers, body: GENERATE_BODY });
  }
  const free = await bridge(url, options.agentTokens[1], 256);
  for (let round = 0; round < options.rounds; round++) {
    await free.poll();
    await run(rounds.write_floor_free_slot, { path: "/bench/write", method: "POST", headers });
    await free.poll();
    await run(rounds.generate_free_slot, { path: "/generate", method: "POST", headers, body: GENERATE_BODY });
  }

  const median = (runs: Run[], key: keyof Run) => {
    const sorted = runs.map((entry) => entry[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  const compare = (route: Run[], floor: Run[]) => ({
    requests_per_s_median: median(route, "requests_per_s"),
    floor_per_s_median: median(floor, "requests_per_s"),
    ratio: median(route, "requests_per_s") / median(floor, "requests_per_s"),
    p95_ms_median: median(route, "p95_ms"),
    floor_p95_ms_median: median(floor, "p95_ms"),
  });
  const status = compare(rounds.status, rounds.read_floor);
  const generate = compare(rounds.generate, rounds.write_floor);
  return {
    connections: options.connections,
    seconds_per_run: options.seconds,
    rounds,
    status: {
      ...status,
      target_ratio: 0.6,
      target_p95_ms: 100,
      meets_target: status.ratio >= 0.6 && status.p95_ms_median < 100,
    },
    generate: { ...generate, fleet: "busy", target_ratio: 0.7, meets_target: generate.ratio >= 0.7 },
    generate_free_slot: { ...compare(rounds.generate_free_slot, rounds.write_floor_free_slot), fleet: "free slot" },
  };
}

interface Request {
  path: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
}

async function load(options: GenerationBenchOptions, request: Request): Promise<Run> {
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.url}${request.path}`,
        method: request.method,
        headers: request.headers,
        ...(request.body ? { body: request.body } : {}),
        connections: options.connections,
        duration: options.seconds,
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on("response", (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? Number.NaN;
  return {
    // Only answers that did the work count: a run of fast 429s or 503s must not look like throughput.
    requests_per_s: result["2xx"] / options.seconds,
    p50_ms: at(0.5),
    p95_ms: at(0.95),
    non_2xx: result.non2xx,
  };
}

/**
 * A bench bridge able to run image.generate@1: registered (so /generate finds
 * capacity), polling, and able to claim one job and keep holding it.
 */
async function bridge(url: string, token: string, maxParallel: number) {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${path}`, { ...init, headers: { ...headers, ...init.headers } });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<unknown>;
  };
  const { agent_id: agentId } = (await call("/api/v1/agents/register", {
    method: "POST",
    body: JSON.stringify({
      agent_name: `bench-generation-${maxParallel}`,
      agent_version: "bench",
      platform: process.platform,
      capabilities: ["image.generate@1"],
      max_parallel_jobs: maxParallel,
    }),
  })) as { agent_id: string };
  const agent = { "x-agent-id": agentId };
  let held: { jobId: string; lockToken: string } | undefined;
  return {
    poll: () => call("/api/v1/jobs?limit=1", { headers: agent }),
    /** Claims the job of this task (a board lists it within moments) and holds it. */
    async hold(taskId: string) {
      for (let tries = 0; tries < 50 && !held; tries++) {
        const jobs = (await call("/api/v1/jobs?limit=1&wait=1", { headers: agent })) as {
          job_id: string;
          task_id: string;
        }[];
        const job = jobs.find((candidate) => candidate.task_id === taskId);
        if (!job) continue;
        const claimed = (await call(`/api/v1/jobs/${job.job_id}/claim`, {
          method: "POST",
          headers: agent,
          body: "{}",
        })) as {
          lock_token: string;
        };
        held = { jobId: job.job_id, lockToken: claimed.lock_token };
      }
      if (!held) throw new Error(`the bench bridge never saw task ${taskId}'s job`);
    },
    /** A heartbeat: the held job's lease, and the bridge's liveness. */
    async keepAlive() {
      if (!held) return;
      await call(`/api/v1/jobs/${held.jobId}/heartbeat`, {
        method: "POST",
        headers: agent,
        body: JSON.stringify({ lock_token: held.lockToken, progress: 0.5 }),
      });
    },
  };
}
