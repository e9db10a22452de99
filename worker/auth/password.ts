/**
 * Password hashing with PBKDF2-SHA256 from WebCrypto and a per-user random salt.
 * 100,000 iterations is the most the Workers runtime allows; the count is stored
 * in the hash string so it can be raised later without breaking old hashes.
 */
import { base64url, fromBase64url, randomBytes } from "./crypto";

const ITERATIONS = 100_000;
const encoder = new TextEncoder();

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, ITERATIONS);
  return `pbkdf2-sha256$${ITERATIONS}$${base64url(salt)}$${base64url(hash)}`;
}

/** A stored hash nobody's password matches, so unknown users cost the same time as known ones. */
const DECOY = `pbkdf2-sha256$${ITERATIONS}$${base64url(new Uint8Array(16))}$${base64url(new Uint8Array(32))}`;

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const [scheme, iterations, salt, hash] = (stored ?? DECOY).split("$");
  if (scheme !== "pbkdf2-sha256" || !iterations || !salt || !hash) return false;
  const expected = fromBase64url(hash);
  const actual = await derive(password, fromBase64url(salt), Number(iterations));
  let diff = expected.length ^ actual.length;
  for (let i = 0; i < actual.length; i++) diff |= (actual[i] ?? 0) ^ (expected[i] ?? 0);
  return diff === 0 && stored !== null && stored !== undefined;
}
