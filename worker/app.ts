/**
 * Builds the Hono app: request context, CORS, the global body ceiling, each
 * contract's surface at its native paths, the platform routes (health, docs)
 * and one error handler that renders in the caller's contract shape.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env";
import { limitBodyByConfig } from "./http/body-limit";
import { corsAllowlist } from "./http/cors";
import { handleError, handleNotFound } from "./http/error-handler";
import { requestContext } from "./http/request-context";
import { router } from "./http/router";
import { catalog } from "./surfaces/catalog";
import { extract } from "./surfaces/extract";
import { mediaGeneration } from "./surfaces/media-generation";
import { pipeline } from "./surfaces/pipeline";
import { benchFloor } from "./surfaces/platform/bench-floor";
import { mountDocs } from "./surfaces/platform/docs";
import { health } from "./surfaces/platform/health";
import { story } from "./surfaces/story";

export function buildApp(): OpenAPIHono<AppEnv> {
  const app = router();
  app.use("*", requestContext());
  app.use("*", corsAllowlist());
  app.use("*", limitBodyByConfig());
  app.route("/", health);
  app.route("/", mediaGeneration);
  app.route("/", pipeline);
  app.route("/", story);
  app.route("/", catalog);
  app.route("/", extract);
  app.route("/", benchFloor);
  mountDocs(app);
  app.notFound(handleNotFound);
  app.onError(handleError);
  return app;
}
