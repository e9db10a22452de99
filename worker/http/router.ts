/**
 * Every route group is an OpenAPIHono router made here, so each one validates
 * with the same hook and contributes its zod schemas to /openapi.json.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { throwOnInvalid } from "./validation";

export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: throwOnInvalid });
}
