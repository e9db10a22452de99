/**
 * Contract 002 refresh-token reuse detection under concurrency, at the core
 * level: two rotations of one token, with one of them paused on the real D1 at
 * a chosen statement so the other runs in between. Whatever the interleaving,
 * at most one rotation succeeds and, because a reuse was detected, no token of
 * the login's family may stay usable — the winner's successor included.
 */
import { env } from "cloudflare:test";
import { and, eq, isNull } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rotateRefreshToken } from "../../worker/core/refresh-tokens";
import { database } from "../../worker/db/client";
import { credentials } from "../../worker/db/schema";
import { credentialFor, db, makeRefreshToken, makeUser } from "../helpers/fixtures";
import { gatedD1 } from "../helpers/gated-d1";
import { call } from "../helpers/http";

const TTL = 3600;

describe("002 refresh rotation race (core, forced interleavings)", () => {
  it.each([
    ["paused just before it writes the successor token", /^insert into "credentials"/i],
    ["paused just before it retires the presented token", /^update "credentials" set "replaced_by" = \?/i],
  ])("one rotation %s: at most one wins and the family ends fully revoked", async (_name, statement) => {
    const user = await makeUser();
    const token = await makeRefreshToken(user.id);
    const familyId = (await credentialFor(token.secret)).familyId ?? "";

    const gate = gatedD1(env.DB, statement);
    const paused = rotateRefreshToken(database(gate.d1), token.secret, TTL);
    await Promise.race([gate.reached, paused.then(() => Promise.reject(new Error("the gated statement never ran")))]);
    const other = await rotateRefreshToken(db(), token.secret, TTL);
    gate.release();
    const first = await paused;

    const outcomes = [first, other];
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
    const loser = outcomes.find((outcome) => !outcome.ok);
    expect(loser).toMatchObject({ ok: false, reason: "reuse" });

    const live = await db()
      .select()
      .from(credentials)
      .where(and(eq(credentials.familyId, familyId), isNull(credentials.revokedAt)));
    expect(live).toEqual([]);
    for (const outcome of outcomes) {
      if (!outcome.ok) continue;
      const response = await call("/api/refresh", { method: "POST", cookies: { refresh_token: outcome.next.secret } });
      expect(response.status).toBe(401);
    }
  });
});
