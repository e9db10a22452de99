/**
 * Media in and out for contract 000's callers (API key, `api_key` query or
 * guest session), additive and in the OpenAPI. Large reference images and
 * other inputs arrive here instead of as data URIs:
 *   POST   /uploads/init                 declare size, type, sha256 → part layout
 *   POST   /uploads/part?upload_id&part_number   one part as the raw body (re-sending replaces it)
 *   GET    /uploads/{upload_id}          what arrived: resume by sending missing_parts
 *   POST   /uploads/complete             assemble, verify the sha256 → artifact
 *   DELETE /uploads/{upload_id}          abandon
 *   GET    /artifacts/{artifact_id}      download, with Range; 404 for anyone but its owner, 410 after expiry
 */
import { createRoute, z } from "@hono/zod-openapi";
import { authenticateGeneration } from "../../auth/media-generation";
import {
  artifactSchema,
  completeUploadSchema,
  initUploadSchema,
  partQuerySchema,
  uploadedPartSchema,
  uploadSchema,
} from "../../contracts/uploads";
import { SURFACE } from "../../core/generation/tasks";
import { armMaintenance } from "../../core/maintenance";
import { readableArtifact } from "../../core/media/artifacts";
import { serveObject } from "../../core/media/serve";
import { abortUpload, completeUpload, findUpload, initUpload, partsOf, putPart } from "../../core/media/uploads";
import { artifactView, partView, uploadView } from "../../core/media/views";
import { errors000 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { type AppContext, callerOf, db } from "../../http/context";
import { router } from "../../http/router";

const tags = ["Media (uploads and downloads)"];
const PART_PATH = "/uploads/part";
const ARTIFACTS = "/artifacts";
const uploadIdParam = z.object({ upload_id: z.string().uuid() });
const security = [{ ApiKey: [] }];

export const media = router();

const owner = (c: AppContext) => ({ principalId: callerOf(c).principal.id });

media.openapi(
  createRoute({
    method: "post",
    path: "/uploads/init",
    tags,
    summary: "Start a chunked upload: the declared size fixes the part layout",
    security,
    middleware: [limitBody(4 * KiB), authenticateGeneration()] as const,
    request: { body: { content: { "application/json": { schema: initUploadSchema } }, required: true } },
    responses: {
      201: { content: { "application/json": { schema: uploadSchema } }, description: "Upload opened" },
      413: errors000("Larger than UPLOAD_MAX_BYTES"),
      422: errors000("Invalid body"),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    c.executionCtx.waitUntil(armMaintenance(c.env));
    const upload = await initUpload(c.env, db(c), {
      ownerPrincipalId: callerOf(c).principal.id,
      surface: SURFACE,
      kind: "input",
      contentType: body.content_type,
      sizeBytes: body.size_bytes,
      sha256: body.sha256,
    });
    return c.json(uploadView(upload, [], PART_PATH), 201);
  },
);

media.openapi(
  createRoute({
    method: "post",
    path: PART_PATH,
    tags,
    summary: "Send one part as the raw body; every part but the last is exactly part_size_bytes",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { query: partQuerySchema },
    responses: {
      200: { content: { "application/json": { schema: uploadedPartSchema } }, description: "Stored" },
      400: errors000("Wrong length or broken body: the part was not stored"),
      404: errors000("No such upload"),
      409: errors000("Upload completed or aborted"),
      422: errors000("Checksum mismatch: the part was not stored"),
    },
  }),
  async (c) => {
    const { upload_id, part_number } = c.req.valid("query");
    const upload = await findUpload(db(c), upload_id, owner(c));
    return c.json(partView(await putPart(c.env, db(c), upload, part_number, c.req.raw)), 200);
  },
);

media.openapi(
  createRoute({
    method: "get",
    path: "/uploads/{upload_id}",
    tags,
    summary: "An upload's state: the parts that arrived and the ones still missing",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { params: uploadIdParam },
    responses: {
      200: { content: { "application/json": { schema: uploadSchema } }, description: "The upload" },
      404: errors000("No such upload"),
    },
  }),
  async (c) => {
    const upload = await findUpload(db(c), c.req.valid("param").upload_id, owner(c));
    return c.json(uploadView(upload, await partsOf(db(c), upload.id), PART_PATH), 200);
  },
);

media.openapi(
  createRoute({
    method: "post",
    path: "/uploads/complete",
    tags,
    summary: "Assemble the parts and verify the whole file's sha256; idempotent",
    security,
    middleware: [limitBody(512 * KiB), authenticateGeneration()] as const,
    request: { body: { content: { "application/json": { schema: completeUploadSchema } }, required: true } },
    responses: {
      201: { content: { "application/json": { schema: artifactSchema } }, description: "Stored" },
      404: errors000("No such upload"),
      409: errors000("Parts missing (listed), or the upload was aborted"),
      422: errors000("The assembled file does not match its sha256"),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const upload = await findUpload(db(c), body.upload_id, owner(c));
    const artifact = await completeUpload(c.env, db(c), upload, body.parts);
    return c.json(artifactView(artifact, ARTIFACTS), 201);
  },
);

media.openapi(
  createRoute({
    method: "delete",
    path: "/uploads/{upload_id}",
    tags,
    summary: "Abandon an upload; its parts are deleted",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { params: uploadIdParam },
    responses: { 204: { description: "Aborted" }, 404: errors000("No such upload") },
  }),
  async (c) => {
    const upload = await findUpload(db(c), c.req.valid("param").upload_id, owner(c));
    await abortUpload(c.env, db(c), upload);
    return c.body(null, 204);
  },
);

media.openapi(
  createRoute({
    method: "get",
    path: `${ARTIFACTS}/{artifact_id}`,
    tags,
    summary: "Download an artifact you own; Range requests answer 206",
    security,
    middleware: [authenticateGeneration()] as const,
    request: { params: z.object({ artifact_id: z.string().uuid() }) },
    responses: {
      200: { content: { "application/octet-stream": { schema: z.any() } }, description: "The bytes" },
      206: { content: { "application/octet-stream": { schema: z.any() } }, description: "The range asked for" },
      404: errors000("No such artifact (or not yours)"),
      410: errors000("Expired: the bytes were deleted"),
      416: errors000("Range outside the object"),
    },
  }),
  async (c) => {
    const artifact = await readableArtifact(db(c), c.req.valid("param").artifact_id, callerOf(c).principal.id);
    return serveObject(c.env, artifact, c.req.raw);
  },
);
