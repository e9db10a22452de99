/**
 * Principals: the one identity model behind every contract. Users have integer
 * ids and a login handle; guests are anonymous generation sessions with a quota;
 * admins hold admin keys; agents are GPU bridges belonging to a capacity account.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import { hashPassword, verifyPassword } from "../auth/password";
import type { Database, PrincipalRow } from "../db/client";
import { principals } from "../db/schema";
import { ApiError } from "../errors/api-error";

/** Username and password rules the original story backend lacked. */
export const usernameSchema = z
  .string()
  .trim()
  .min(3, "Username must be at least 3 characters")
  .max(64, "Username must be at most 64 characters")
  // No "@": a username must never be mistaken for someone's e-mail at login.
  .regex(/^[A-Za-z0-9._-]+$/, "Username may contain letters, digits and . _ - only")
  .transform((value) => value.toLowerCase());

export const passwordSchema = z
  .string()
  .min(8, "Password must be at least 8 characters")
  .max(256, "Password must be at most 256 characters")
  .refine((value) => value.trim().length > 0, "Password must not be blank");

export async function createUser(
  db: Database,
  input: { username: string; password: string; email?: string },
): Promise<PrincipalRow> {
  const passwordHash = await hashPassword(input.password);
  const inserted = await db
    .insert(principals)
    .values({
      kind: "user",
      username: input.username.toLowerCase(),
      email: input.email?.toLowerCase() ?? null,
      passwordHash,
    })
    .onConflictDoNothing()
    .returning();
  const user = inserted[0];
  if (!user) throw new ApiError("username_taken", "Username already exists");
  return user;
}

/**
 * Checks a login by e-mail (a handle with "@") or by username. Always runs the KDF, even for unknown
 * users, so response time does not reveal which accounts exist.
 */
export async function authenticateUser(db: Database, login: string, password: string): Promise<PrincipalRow | null> {
  const handle = login.trim().toLowerCase();
  const rows = await db
    .select()
    .from(principals)
    .where(handle.includes("@") ? eq(principals.email, handle) : eq(principals.username, handle))
    .limit(1);
  const user = rows[0];
  const ok = await verifyPassword(password, user?.passwordHash);
  if (!ok || !user || user.kind !== "user" || user.disabledAt) return null;
  return user;
}

export async function createGuest(db: Database, quota: { concurrent: number; daily: number }): Promise<PrincipalRow> {
  const inserted = await db
    .insert(principals)
    .values({ kind: "guest", quotaConcurrent: quota.concurrent, quotaDaily: quota.daily })
    .returning();
  const guest = inserted[0];
  if (!guest) throw new Error("guest insert returned no row");
  return guest;
}

export async function createAgent(
  db: Database,
  input: { name: string; capacityAccountId: string },
): Promise<PrincipalRow> {
  const inserted = await db
    .insert(principals)
    .values({ kind: "agent", username: input.name.toLowerCase(), capacityAccountId: input.capacityAccountId })
    .onConflictDoNothing()
    .returning();
  const agent = inserted[0];
  if (!agent) throw new ApiError("state_conflict", `The name ${input.name} is already taken`);
  return agent;
}

export async function findPrincipal(db: Database, id: number): Promise<PrincipalRow | undefined> {
  const rows = await db.select().from(principals).where(eq(principals.id, id)).limit(1);
  return rows[0];
}

export async function findUserByEmail(db: Database, email: string): Promise<PrincipalRow | undefined> {
  const rows = await db.select().from(principals).where(eq(principals.email, email.trim().toLowerCase())).limit(1);
  const user = rows[0];
  return user?.kind === "user" && !user.disabledAt ? user : undefined;
}
