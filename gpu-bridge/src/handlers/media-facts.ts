/**
 * `media.facts@1` (job type extract_facts): ffprobe one input, "source", and
 * submit contract 003's facts (duration, container, codecs, size, frame rate).
 */
import { JobError } from "../errors";
import { toolVersion } from "../ffmpeg";
import { factsFromProbe, probeFile } from "./ffprobe";
import type { Handler } from "./types";

export const mediaFactsHandler: Handler = {
  capability: "media.facts@1",
  jobType: "extract_facts",

  async detect(signal) {
    const version = await toolVersion("ffprobe", signal);
    return version
      ? { available: true, detail: version }
      : { available: false, detail: "ffprobe not found on PATH (install ffmpeg)" };
  },

  async run(context) {
    const source = context.inputs.get("source");
    if (!source) throw new JobError("input_missing", "extract_facts needs an input named source", false);
    context.progress({ fraction: 0, stage: "probing", message: "ffprobe" });
    const started = performance.now();
    const { probe } = await probeFile(source.path, context.signal);
    const probeMs = Math.round(performance.now() - started);
    const { facts, warnings } = factsFromProbe(probe);
    context.progress({ fraction: 1, stage: "probing", message: `probed in ${probeMs} ms` });
    return { facts, warnings, metrics: { probe_ms: probeMs } };
  },
};
