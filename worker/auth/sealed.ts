/**
 * Secrets at rest: AES-256-GCM under the ACCOUNTS_ENCRYPTION_KEY secret, with
 * the owning row's identity as additional data, so a sealed value copied onto
 * another row does not open. Sealed text is `v1.<iv>.<ciphertext+tag>`
 * (base64url); the version names the scheme should it ever change.
 */
import type { Config } from "../config";
import { ApiError } from "../errors/api-error";
import { base64url, fromBase64url, randomBytes } from "./crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const encoder = new TextEncoder();

let cachedKey: { source: string; key: Promise<CryptoKey> } | undefined;

function missingKey(reason: string): ApiError {
  // The reason names the setting, never its value.
  return new ApiError("admin_env_missing", `Account credentials cannot be sealed or opened: ${reason}`);
}

/** The AES key, imported once per isolate; a missing or malformed secret is a 503 for the routes that need it. */
function sealingKey(config: Config): Promise<CryptoKey> {
  const source = config.ACCOUNTS_ENCRYPTION_KEY;
  if (!source) throw missingKey("ACCOUNTS_ENCRYPTION_KEY is not set");
  if (cachedKey?.source === source) return cachedKey.key;
  let raw: Uint8Array;
  try {
    raw = fromBase64url(source.trim().replace(/=+$/, ""));
  } catch {
    throw missingKey("ACCOUNTS_ENCRYPTION_KEY is not base64");
  }
  if (raw.byteLength !== 32) throw missingKey("ACCOUNTS_ENCRYPTION_KEY must decode to 32 bytes");
  const key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  cachedKey = { source, key };
  return key;
}

export async function seal(config: Config, plaintext: string, boundTo: string): Promise<string> {
  const key = await sealingKey(config);
  const iv = randomBytes(IV_BYTES);
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(boundTo) },
    key,
    encoder.encode(plaintext),
  );
  return [VERSION, base64url(iv), base64url(new Uint8Array(ciphertext))].join(".");
}

export async function open(config: Config, sealed: string, boundTo: string): Promise<string> {
  const key = await sealingKey(config);
  const [version, iv, ciphertext] = sealed.split(".");
  if (version !== VERSION || !iv || !ciphertext) throw new Error("unrecognised sealed value");
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64url(iv), additionalData: encoder.encode(boundTo) },
      key,
      fromBase64url(ciphertext),
    );
    return new TextDecoder().decode(plaintext);
  } catch {
    // Another key, another row, or tampering: GCM cannot tell which, and neither should the message.
    throw missingKey("the stored credentials do not open with the configured ACCOUNTS_ENCRYPTION_KEY");
  }
}
