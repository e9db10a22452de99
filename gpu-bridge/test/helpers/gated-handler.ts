/**
 * A media.facts@1 handler for runner tests: it reports progress, then waits
 * until the test releases its job (or the job is aborted), optionally with a
 * real child process that must die with the job.
 */
import type { MediaFacts } from "../../../worker/contracts/job-types";
import { runTool } from "../../src/ffmpeg";
import type { Handler, HandlerContext } from "../../src/handlers/types";

export const FACTS: MediaFacts = {
  duration_ms: 2000,
  media_format: "mov,mp4,m4a,3gp,3g2,mj2",
  video_codec: "h264",
  audio_codec: "aac",
  width: 320,
  height: 240,
  fps: 25,
};

export interface GatedHandler {
  handler: Handler;
  contexts: Map<string, HandlerContext>;
  childPids: Map<string, number>;
  /** Highest number of jobs running at once. */
  maxRunning(): number;
  release(jobId: string): void;
  /** Resolves once `count` jobs have started. */
  started(count: number): Promise<HandlerContext[]>;
}

export function gatedHandler(options: { autoRelease?: boolean; spawnChild?: boolean } = {}): GatedHandler {
  const contexts = new Map<string, HandlerContext>();
  const childPids = new Map<string, number>();
  const gates = new Map<string, () => void>();
  const released = new Set<string>();
  let running = 0;
  let peak = 0;
  const onStart: (() => void)[] = [];

  const handler: Handler = {
    capability: "media.facts@1",
    jobType: "extract_facts",
    detect: async () => ({ available: true, detail: "test handler" }),
    async run(context) {
      const jobId = context.job.job_id;
      running++;
      peak = Math.max(peak, running);
      try {
        context.progress({ fraction: 0.5, stage: "working", message: "half way" });
        const gate = new Promise<void>((resolve) => {
          gates.set(jobId, resolve);
          if (options.autoRelease || released.has(jobId)) resolve();
        });
        const child = options.spawnChild
          ? runTool(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
              signal: context.signal,
              onSpawn: (spawned) => {
                if (spawned.pid !== undefined) childPids.set(jobId, spawned.pid);
              },
            })
          : undefined;
        contexts.set(jobId, context);
        for (const wake of onStart.splice(0)) wake();
        const aborted = new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve()));
        await Promise.race([gate, aborted]);
        if (context.signal.aborted) {
          await child?.catch(() => undefined);
          throw context.signal.reason;
        }
        return { facts: FACTS, warnings: ["from the gated test handler"], metrics: { test: true } };
      } finally {
        running--;
      }
    },
  };

  const started = async (count: number): Promise<HandlerContext[]> => {
    while (contexts.size < count) await new Promise<void>((resolve) => onStart.push(resolve));
    return [...contexts.values()];
  };
  const release = (jobId: string) => {
    released.add(jobId);
    gates.get(jobId)?.();
  };
  return { handler, contexts, childPids, maxRunning: () => peak, release, started };
}
