/** The Worker entry: the HTTP app, and the Durable Object classes it binds. */
import { buildApp } from "./app";

export { RateLimiter } from "../durable-objects/rate-limiter";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
