/**
 * A submitted derived_manifest checked against what the job really uploaded:
 * every entry must name an artifact this very job produced (through its
 * output uploads) of the kind it claims, and every output the job type
 * declares must be there once. The stored manifest is rebuilt from the
 * server's records, so sizes and digests are the server's, not the agent's.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { ProcessingResult } from "../../contracts/agent-protocol";
import { JOB_TYPES, type JobType, type OutputSpec } from "../../contracts/job-types";
import type { Database } from "../../db/client";
import { artifacts } from "../../db/schema";
import { ApiError, type FieldIssue } from "../../errors/api-error";

export async function verifiedManifest(
  db: Database,
  jobType: JobType,
  jobId: string,
  manifest: ProcessingResult["derived_manifest"],
): Promise<ProcessingResult["derived_manifest"]> {
  const outputs: readonly OutputSpec[] = JOB_TYPES[jobType].outputs;
  const refs = manifest.map((entry) => entry.ref);
  const rows = refs.length
    ? await db
        .select()
        .from(artifacts)
        .where(and(inArray(artifacts.id, refs), eq(artifacts.jobId, jobId)))
    : [];
  const issues: FieldIssue[] = [];
  const at = (index: number, field: string, message: string) =>
    issues.push({ location: ["body", "result", "derived_manifest", index, field], message, type: "custom" });
  for (const [index, entry] of manifest.entries()) {
    const row = rows.find((candidate) => candidate.id === entry.ref);
    if (!row) {
      at(index, "ref", "not an output this job uploaded");
      continue;
    }
    if (row.kind !== entry.kind) at(index, "kind", `the artifact was uploaded as ${row.kind}`);
    if (entry.sha256 && entry.sha256 !== row.sha256) at(index, "sha256", "does not match the stored bytes");
    if (entry.size_bytes !== undefined && entry.size_bytes !== row.sizeBytes) {
      at(index, "size_bytes", "does not match the stored bytes");
    }
  }
  for (const output of outputs) {
    const count = manifest.filter((entry) => entry.kind === output.kind).length;
    if (count !== 1) {
      issues.push({
        location: ["body", "result", "derived_manifest"],
        message: `expected exactly one ${output.kind} output, got ${count}`,
        type: "custom",
      });
    }
  }
  if (issues.length > 0) {
    throw new ApiError("validation_failed", `derived_manifest does not match ${jobType}'s outputs`, { issues });
  }
  return manifest.map((entry) => {
    const row = rows.find((candidate) => candidate.id === entry.ref);
    return { kind: entry.kind, ref: entry.ref, size_bytes: row?.sizeBytes, sha256: row?.sha256 };
  });
}
