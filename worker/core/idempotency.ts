/**
 * Idempotency records: (principal, Idempotency-Key) → the stored outcome of the
 * first request. Reserving a key is one INSERT … ON CONFLICT DO NOTHING, so of two
 * concurrent requests exactly one runs; the other sees the reservation.
 */
import { and, eq, lt, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { idempotencyRecords } from "../db/schema";

/**
 * A reservation still "running" after this long belongs to a request that died
 * (isolate evicted, response never stored): it stops binding the key.
 */
const ABANDONED_AFTER_MS = 5 * 60_000;

export interface RequestFingerprint {
  principalId: number;
  key: string;
  method: string;
  path: string;
  bodyHash: string;
}

export type Reservation =
  | { kind: "reserved" }
  | { kind: "conflict" }
  | { kind: "in_progress" }
  | { kind: "replay"; status: number; contentType: string | null; body: string | null };

export async function reserve(
  db: Database,
  request: RequestFingerprint,
  ttlSeconds: number,
  now = Date.now(),
): Promise<Reservation> {
  const where = and(eq(idempotencyRecords.principalId, request.principalId), eq(idempotencyRecords.key, request.key));
  // An expired record, or an abandoned reservation, no longer binds the key.
  await db
    .delete(idempotencyRecords)
    .where(
      and(
        where,
        or(
          lt(idempotencyRecords.expiresAt, new Date(now)),
          and(
            eq(idempotencyRecords.state, "running"),
            lt(idempotencyRecords.createdAt, new Date(now - ABANDONED_AFTER_MS)),
          ),
        ),
      ),
    );
  const inserted = await db
    .insert(idempotencyRecords)
    .values({ ...request, state: "running", createdAt: new Date(now), expiresAt: new Date(now + ttlSeconds * 1000) })
    .onConflictDoNothing()
    .returning({ key: idempotencyRecords.key });
  if (inserted.length === 1) return { kind: "reserved" };

  const rows = await db.select().from(idempotencyRecords).where(where).limit(1);
  const existing = rows[0];
  if (!existing) return reserve(db, request, ttlSeconds, now);
  if (existing.method !== request.method || existing.path !== request.path || existing.bodyHash !== request.bodyHash) {
    return { kind: "conflict" };
  }
  if (existing.state === "running" || existing.status === null) return { kind: "in_progress" };
  return { kind: "replay", status: existing.status, contentType: existing.contentType, body: existing.body };
}

export async function complete(
  db: Database,
  request: Pick<RequestFingerprint, "principalId" | "key">,
  outcome: { status: number; contentType: string | null; body: string },
): Promise<void> {
  await db
    .update(idempotencyRecords)
    .set({ state: "done", ...outcome })
    .where(and(eq(idempotencyRecords.principalId, request.principalId), eq(idempotencyRecords.key, request.key)));
}

/** Frees the key after a server-side failure so the client may retry it. */
export async function release(db: Database, request: Pick<RequestFingerprint, "principalId" | "key">): Promise<void> {
  await db
    .delete(idempotencyRecords)
    .where(and(eq(idempotencyRecords.principalId, request.principalId), eq(idempotencyRecords.key, request.key)));
}
