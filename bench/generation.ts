/**
 * Contract 000 under load (autocannon, 16 connections): `GET /status/{id}` and
 * `POST /generate`, each against a floor route in the same run that makes
 * only the same binding calls after the same authentication — one D1 read
 * (`GET /bench/read/{id}`), and one D1 insert plus one queue send
 * (`POST /bench/write`). Rounds alternate floor and route; medians reported.
 * Latency percentiles come from every response's own time.
 */
import autocannon from "autocannon";

export interface GenerationBenchOptions {
  url: string;
  apiKey: string;
  /** A registered agent token: /generate needs a live bridge able to run the model. */
  agentToken: string;
  seconds: number;
  rounds: number;
  connections: number;
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
  await keepBridgeAlive(options);
  const created = await fetch(`${url}/generate`, { method: "POST", headers, body: GENERATE_BODY });
  if (!created.ok) throw new Error(`generate: ${created.status} ${await created.text()}`);
  const { task_id: taskId } = (await created.json()) as { task_id: string };

  const rounds = { status: [] as Run[], read_floor: [] as Run[], generate: [] as Run[], write_floor: [] as Run[] };
  for (let round = 0; round < options.rounds; round++) {
    rounds.read_floor.push(await load(options, { path: `/bench/read/${taskId}`, method: "GET", headers }));
    rounds.status.push(await load(options, { path: `/status/${taskId}`, method: "GET", headers }));
    await keepBridgeAlive(options);
    rounds.write_floor.push(await load(options, { path: "/bench/write", method: "POST", headers }));
    rounds.generate.push(await load(options, { path: "/generate", method: "POST", headers, body: GENERATE_BODY }));
  }
  const median = (runs: Run[], key: keyof Run) => {
    const sorted = runs.map((run) => run[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  const status = median(rounds.status, "requests_per_s");
  const readFloor = median(rounds.read_floor, "requests_per_s");
  const generate = median(rounds.generate, "requests_per_s");
  const writeFloor = median(rounds.write_floor, "requests_per_s");
  return {
    connections: options.connections,
    seconds_per_run: options.seconds,
    rounds,
    status: {
      requests_per_s_median: status,
      floor_per_s_median: readFloor,
      ratio: status / readFloor,
      p95_ms_median: median(rounds.status, "p95_ms"),
      target_ratio: 0.6,
      target_p95_ms: 100,
      meets_target: status / readFloor >= 0.6 && median(rounds.status, "p95_ms") < 100,
    },
    generate: {
      requests_per_s_median: generate,
      floor_per_s_median: writeFloor,
      ratio: generate / writeFloor,
      p95_ms_median: median(rounds.generate, "p95_ms"),
      target_ratio: 0.7,
      meets_target: generate / writeFloor >= 0.7,
    },
  };
}

async function load(
  options: GenerationBenchOptions,
  request: { path: string; method: "GET" | "POST"; headers: Record<string, string>; body?: string },
): Promise<Run> {
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
    requests_per_s: result.requests.total / options.seconds,
    p50_ms: at(0.5),
    p95_ms: at(0.95),
    non_2xx: result.non2xx,
  };
}

/** Registers (once) and polls as a bridge able to run image.generate@1, so /generate finds capacity. */
async function keepBridgeAlive(options: GenerationBenchOptions): Promise<void> {
  const headers = { authorization: `Bearer ${options.agentToken}`, "content-type": "application/json" };
  const registered = await fetch(`${options.url}/api/v1/agents/register`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      agent_name: "bench-generation",
      agent_version: "bench",
      platform: process.platform,
      capabilities: ["image.generate@1"],
      max_parallel_jobs: 1,
    }),
  });
  if (!registered.ok) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const { agent_id } = (await registered.json()) as { agent_id: string };
  const listed = await fetch(`${options.url}/api/v1/jobs?limit=1`, { headers: { ...headers, "x-agent-id": agent_id } });
  await listed.arrayBuffer();
}
