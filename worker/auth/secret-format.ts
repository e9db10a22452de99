/**
 * The format of every opaque secret: a readable prefix (so scanners can spot a
 * leaked key; sessions have none) and 48 random bytes, i.e. 64 URL-safe
 * characters as the original gg_session had. Shared by the Worker and the seed script.
 */
import { randomSecret } from "./crypto";

export const SECRET_PREFIX = {
  api_key: "mek_",
  admin_key: "mea_",
  agent_token: "agt_",
  guest_session: "",
  admin_session: "",
  ui_session: "",
  refresh_token: "",
} as const;

export type SecretKind = keyof typeof SECRET_PREFIX;

export function newSecret(kind: SecretKind): string {
  return randomSecret(48, SECRET_PREFIX[kind]);
}

/** The part stored for listings: enough to tell keys apart, never enough to use one. */
export function displayPrefix(kind: SecretKind, secret: string): string {
  return secret.slice(0, SECRET_PREFIX[kind].length + 6);
}
