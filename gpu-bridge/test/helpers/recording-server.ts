/**
 * What the fake provider servers share: a node:http server on a random
 * loopback port, every request recorded, and a way to wait for one that
 * matches (already seen or still to come), never for time to pass.
 */
import { EventEmitter } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A server listening on 127.0.0.1 at a port the OS picked, and its origin. */
export async function listenOnLoopback(): Promise<{ server: Server; url: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

export abstract class RecordingServer<R> {
  readonly requests: R[] = [];
  private readonly events = new EventEmitter();

  protected constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Resolves with the first request (already seen or still to come) that matches. */
  waitFor(match: (request: R) => boolean): Promise<R> {
    const seen = this.requests.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const listener = (request: R) => {
        if (!match(request)) return;
        this.events.off("request", listener);
        resolve(request);
      };
      this.events.on("request", listener);
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  protected record(request: R): void {
    this.requests.push(request);
    this.events.emit("request", request);
  }
}

/** A JSON answer. */
export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
