/** A task's progress events, as every surface that shows them serves them. */
import { z } from "zod";
import { roomFor } from "./boards";

/** Query of a task-events route: events after `after`; `wait` long-polls that many seconds. */
export const taskEventsQuery = z.object({
  after: z.coerce.number().int().nonnegative().default(0),
  wait: z.coerce.number().int().min(0).max(25).default(0),
});

/**
 * A task's events for a caller already checked to own it: a WebSocket through
 * its TaskRoom when the request upgrades, else JSON (long-polled by `wait`).
 */
export async function taskEvents(
  env: Env,
  request: Request,
  taskId: string,
  query: z.output<typeof taskEventsQuery>,
): Promise<Response> {
  const room = roomFor(env, taskId);
  if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
    const url = new URL("https://task-room/events");
    url.searchParams.set("task_id", taskId);
    url.searchParams.set("after", String(query.after));
    return room.fetch(new Request(url, request));
  }
  return Response.json(await room.events(taskId, query.after, query.wait * 1000));
}
