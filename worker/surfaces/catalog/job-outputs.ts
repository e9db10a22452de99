/**
 * Contract 003: a job's output files, through the same chunked upload
 * mechanism users have (additive, in the OpenAPI). Only the job's current
 * lease holder may upload, each call proving it with the lock token; the
 * artifact belongs to the task's owner and is namespaced by task. Submit then
 * lists the artifacts in derived_manifest.
 *   POST /api/v1/jobs/{id}/outputs/init                      {kind, content_type, size_bytes, sha256?, lock_token}
 *   POST /api/v1/jobs/{id}/outputs/part?upload_id&part_number   raw body, X-Lock-Token
 *   GET  /api/v1/jobs/{id}/outputs/{upload_id}               what arrived (resume), X-Lock-Token
 *   POST /api/v1/jobs/{id}/outputs/complete                  {upload_id, parts?, lock_token}
 */
import { createRoute, z } from "@hono/zod-openapi";
import { authenticateCatalog } from "../../auth/catalog";
import { requireScope } from "../../auth/scopes";
import { LOCK_TOKEN_HEADER } from "../../contracts/agent-protocol";
import { JOB_TYPES, type OutputSpec } from "../../contracts/job-types";
import {
  artifactSchema,
  completeUploadSchema,
  initOutputSchema,
  partQuerySchema,
  uploadedPartSchema,
  uploadSchema,
} from "../../contracts/uploads";
import { ownerOfTask } from "../../core/jobs/tasks";
import { completeUpload, findUpload, initUpload, partsOf, putPart } from "../../core/media/uploads";
import { artifactView, partView, uploadView } from "../../core/media/views";
import { ApiError } from "../../errors/api-error";
import { errors003 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { db } from "../../http/context";
import { router } from "../../http/router";
import { holdLease } from "./job-lease";

const tags = ["Jobs (003)"];
const security = [{ Bearer: [] }];
const jobIdParam = z.object({ job_id: z.string().uuid() });
const partPath = (jobId: string) => `/api/v1/jobs/${jobId}/outputs/part`;
/** Job outputs are read back through the owner's own routes, not the agent's. */
const ARTIFACTS = "/artifacts";

export const jobOutputs = router();

jobOutputs.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/jobs/{job_id}/outputs/init",
    tags,
    summary: "Start uploading one of the job's outputs (lease holder only)",
    security,
    middleware: [limitBody(4 * KiB), authenticateCatalog(), requireScope("jobs:submit")] as const,
    request: {
      params: jobIdParam,
      body: { content: { "application/json": { schema: initOutputSchema } }, required: true },
    },
    responses: {
      201: { content: { "application/json": { schema: uploadSchema } }, description: "Upload opened" },
      413: errors003("PAYLOAD_TOO_LARGE"),
      422: errors003("VALIDATION_FAILED: not an output of this job type"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const lease = await holdLease(c, job_id, body.lock_token);
    const outputs: readonly OutputSpec[] = JOB_TYPES[lease.jobType].outputs;
    const spec = outputs.find((output) => output.kind === body.kind);
    if (!spec?.contentTypes.includes(body.content_type)) {
      const allowed = outputs.map((output) => `${output.kind} (${output.contentTypes.join("|")})`);
      throw new ApiError("validation_failed", `${lease.jobType} outputs are: ${allowed.join(", ") || "none"}`, {
        issues: [
          {
            location: ["body", spec ? "content_type" : "kind"],
            message: "not an output of this job type",
            type: "custom",
          },
        ],
      });
    }
    const owner = await ownerOfTask(db(c), lease.taskId);
    const upload = await initUpload(c.env, db(c), {
      ownerPrincipalId: owner.ownerPrincipalId,
      surface: owner.surface,
      kind: body.kind,
      contentType: body.content_type,
      sizeBytes: body.size_bytes,
      sha256: body.sha256,
      job: { jobId: job_id, taskId: lease.taskId },
    });
    return c.json(uploadView(upload, [], partPath(job_id)), 201);
  },
);

jobOutputs.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/jobs/{job_id}/outputs/part",
    tags,
    summary: "One part of an output as the raw body, lease in X-Lock-Token",
    security,
    middleware: [authenticateCatalog(), requireScope("jobs:submit")] as const,
    request: { params: jobIdParam, query: partQuerySchema },
    responses: {
      200: { content: { "application/json": { schema: uploadedPartSchema } }, description: "Stored" },
      400: errors003("VALIDATION_FAILED: wrong length or broken body, not stored"),
      422: errors003("VALIDATION_FAILED: checksum mismatch, not stored"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id } = c.req.valid("param");
    const { upload_id, part_number } = c.req.valid("query");
    await holdLease(c, job_id, c.req.header(LOCK_TOKEN_HEADER));
    const upload = await findUpload(db(c), upload_id, { jobId: job_id });
    return c.json(partView(await putPart(c.env, db(c), upload, part_number, c.req.raw)), 200);
  },
);

jobOutputs.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/jobs/{job_id}/outputs/{upload_id}",
    tags,
    summary: "An output upload's state (parts arrived, parts missing), lease in X-Lock-Token",
    security,
    middleware: [authenticateCatalog(), requireScope("jobs:submit")] as const,
    request: { params: jobIdParam.extend({ upload_id: z.string().uuid() }) },
    responses: {
      200: { content: { "application/json": { schema: uploadSchema } }, description: "The upload" },
      404: errors003("NOT_FOUND"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id, upload_id } = c.req.valid("param");
    await holdLease(c, job_id, c.req.header(LOCK_TOKEN_HEADER));
    const upload = await findUpload(db(c), upload_id, { jobId: job_id });
    return c.json(uploadView(upload, await partsOf(db(c), upload.id), partPath(job_id)), 200);
  },
);

jobOutputs.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/jobs/{job_id}/outputs/complete",
    tags,
    summary: "Assemble an output and verify its sha256 → artifact to list in derived_manifest",
    security,
    middleware: [limitBody(512 * KiB), authenticateCatalog(), requireScope("jobs:submit")] as const,
    request: {
      params: jobIdParam,
      body: { content: { "application/json": { schema: completeUploadSchema } }, required: true },
    },
    responses: {
      201: { content: { "application/json": { schema: artifactSchema } }, description: "Stored" },
      409: errors003("STATE_CONFLICT: parts missing or upload aborted"),
      422: errors003("VALIDATION_FAILED: sha256 mismatch"),
      423: errors003("LOCK_REQUIRED / LOCK_INVALID"),
    },
  }),
  async (c) => {
    const { job_id } = c.req.valid("param");
    const body = c.req.valid("json");
    await holdLease(c, job_id, body.lock_token);
    const upload = await findUpload(db(c), body.upload_id, { jobId: job_id });
    const artifact = await completeUpload(c.env, db(c), upload, body.parts);
    return c.json(artifactView(artifact, ARTIFACTS), 201);
  },
);
