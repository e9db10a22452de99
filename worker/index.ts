/** The Worker entry: the HTTP app, the queue consumers, and the Durable Object classes it binds. */
import { buildApp } from "./app";
import { consumeDeadLetters, consumeJobs } from "./core/jobs/queue";

export { JobBoard } from "../durable-objects/job-board";
export { RateLimiter } from "../durable-objects/rate-limiter";
export { Reconciler } from "../durable-objects/reconciler";
export { TaskRoom } from "../durable-objects/task-room";
export { UploadDigest } from "../durable-objects/upload-digest";

const app = buildApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch, env);
    else await consumeJobs(batch, env);
  },
} satisfies ExportedHandler<Env>;
