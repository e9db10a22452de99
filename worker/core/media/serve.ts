/**
 * Streaming an R2 object to a client with HTTP Range (RFC 9110 §14): one
 * range → 206 with Content-Range; none, or several (allowed to be ignored) →
 * 200 with the whole object; a range outside the object → 416 with
 * `Content-Range: bytes *\/size`. The body is R2's stream, never buffered.
 * Callers check ownership and expiry first.
 */
import { ApiError } from "../../errors/api-error";

export interface Served {
  r2Key: string;
  contentType: string;
  sizeBytes: number;
  /** Strong validator: the content's SHA-256. */
  sha256: string;
}

type ByteRange = { offset: number; length: number };

/** Parses a single `bytes=` range against `size`; null means "send it all", "unsatisfiable" means 416. */
export function parseRange(header: string | undefined, size: number): ByteRange | null | "unsatisfiable" {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return null;
  const [, first, last] = match;
  if (first === "" && last === "") return null;
  if (first === "") {
    // Suffix range: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return null;
  return { offset: start, length: end - start + 1 };
}

export async function serveObject(
  env: Env,
  item: Served,
  request: Request,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  const etag = `"${item.sha256}"`;
  const ifRange = request.headers.get("if-range");
  // If-Range with another validator: the client's partial copy is stale, so it gets the whole object.
  const rangeHeader = ifRange && ifRange !== etag ? undefined : (request.headers.get("range") ?? undefined);
  const range = parseRange(rangeHeader, item.sizeBytes);
  if (range === "unsatisfiable") {
    throw new ApiError("range_not_satisfiable", `The object has ${item.sizeBytes} bytes`, {
      headers: { "Content-Range": `bytes */${item.sizeBytes}` },
      details: { size_bytes: item.sizeBytes },
    });
  }
  const headers: Record<string, string> = {
    "Content-Type": item.contentType,
    "Accept-Ranges": "bytes",
    ETag: etag,
    "Cache-Control": "private, max-age=0, must-revalidate",
    "X-Content-Type-Options": "nosniff",
    ...extraHeaders,
  };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  const head = request.method === "HEAD";
  const object = head
    ? await env.MEDIA.head(item.r2Key)
    : await env.MEDIA.get(item.r2Key, range ? { range } : undefined);
  if (!object) throw new ApiError("gone", "The bytes of this media are no longer stored");
  const body: ReadableStream | null = head || !("body" in object) ? null : (object as R2ObjectBody).body;
  if (!range) {
    return new Response(body, { status: 200, headers: { ...headers, "Content-Length": String(item.sizeBytes) } });
  }
  return new Response(body, {
    status: 206,
    headers: {
      ...headers,
      "Content-Length": String(range.length),
      "Content-Range": `bytes ${range.offset}-${range.offset + range.length - 1}/${item.sizeBytes}`,
    },
  });
}
