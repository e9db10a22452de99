/**
 * Demo credentials for local use: a user with a password and an API key, an
 * admin with an admin key, and the local GPU bridge's agent with a scoped
 * token. This module only builds SQL (start.ts runs it through wrangler), so it
 * can be read on its own. Formats come from the worker: hashPassword for
 * passwords, sha256Hex for credential digests, AGENT_SCOPES for the agent.
 *
 * Idempotent: with secrets from an earlier run every statement is an insert
 * that skips existing rows; with fresh secrets the older seeded credentials are
 * revoked first and the demo user's password is replaced.
 */
import { randomSecret, sha256Hex } from "../worker/auth/crypto";
import { hashPassword } from "../worker/auth/password";
import { displayPrefix, newSecret } from "../worker/auth/secret-format";
import { AGENT_SCOPES } from "../worker/contracts/scopes";

/** The shape of .state/credentials.json. */
export interface DemoCredentials {
  base_url: string;
  user: { username: string; email: string; password: string };
  /** Contract 004 `x-api-key` and `POST /api/v1/auth/session {api_key}`; 000 `X-API-Key` (the upload and artifact routes). */
  api_key: string;
  /** Contract 000 `POST /admin/session` with header `x-admin-key`. */
  admin_key: string;
  /** Contract 003 `Authorization: Bearer`, for the local GPU bridge. */
  agent_token: string;
}

const USER = { username: "demo", email: "demo@example.com" };
const ADMIN = "admin";
const AGENT = { username: "local-bridge", capacityAccountId: "local" };
/** Marks the credentials this script issued, so a fresh seed revokes only those. */
const LABEL = "npm start demo";

type SeededKind = "api_key" | "admin_key" | "agent_token";

export function freshCredentials(baseUrl: string): DemoCredentials {
  return {
    base_url: baseUrl,
    user: { ...USER, password: randomSecret(18) },
    api_key: newSecret("api_key"),
    admin_key: newSecret("admin_key"),
    agent_token: newSecret("agent_token"),
  };
}

/** An SQL string literal or NULL. */
function lit(value: string | null): string {
  return value === null ? "NULL" : `'${value.replaceAll("'", "''")}'`;
}

/** Who holds each seeded kind: a same-named principal of another kind never receives it. */
const HOLDER: Record<SeededKind, "user" | "admin" | "agent"> = {
  api_key: "user",
  admin_key: "admin",
  agent_token: "agent",
};

const principalId = (username: string) => `(SELECT id FROM principals WHERE username = ${lit(username)})`;

async function insertCredential(
  username: string,
  kind: SeededKind,
  secret: string,
  scopes: readonly string[] | null = null,
): Promise<string> {
  const values = [
    lit(crypto.randomUUID()),
    "id",
    lit(kind),
    lit(await sha256Hex(secret)),
    lit(displayPrefix(kind, secret)),
    lit(LABEL),
    lit(scopes ? JSON.stringify(scopes) : null),
  ].join(", ");
  return (
    "INSERT INTO credentials (id, principal_id, kind, token_hash, prefix, label, scopes)\n" +
    `  SELECT ${values} FROM principals WHERE username = ${lit(username)} AND kind = ${lit(HOLDER[kind])}\n` +
    "  ON CONFLICT DO NOTHING;"
  );
}

/**
 * The SQL that makes the database hold `creds`. `fresh` means the secrets are
 * new: earlier seeded credentials are revoked and the password is reset.
 */
export async function seedSql(creds: DemoCredentials, fresh: boolean, now = Date.now()): Promise<string> {
  const passwordHash = lit(await hashPassword(creds.user.password));
  const onUserConflict = fresh ? `DO UPDATE SET password_hash = ${passwordHash} WHERE kind = 'user'` : "DO NOTHING";
  const statements = [
    "INSERT INTO principals (kind, username, email, password_hash)\n" +
      `  VALUES ('user', ${lit(creds.user.username)}, ${lit(creds.user.email)}, ${passwordHash})\n` +
      `  ON CONFLICT (username) ${onUserConflict};`,
    `INSERT INTO principals (kind, username) VALUES ('admin', ${lit(ADMIN)}) ON CONFLICT DO NOTHING;`,
    "INSERT INTO principals (kind, username, capacity_account_id)\n" +
      `  VALUES ('agent', ${lit(AGENT.username)}, ${lit(AGENT.capacityAccountId)}) ON CONFLICT DO NOTHING;`,
  ];
  if (fresh) {
    const seeded = [creds.user.username, ADMIN, AGENT.username].map(principalId).join(", ");
    statements.push(
      `UPDATE credentials SET revoked_at = ${now}, revoked_reason = 'replaced by a new npm start seed'\n` +
        `  WHERE label = ${lit(LABEL)} AND revoked_at IS NULL AND principal_id IN (${seeded});`,
    );
  }
  statements.push(
    await insertCredential(creds.user.username, "api_key", creds.api_key),
    await insertCredential(ADMIN, "admin_key", creds.admin_key),
    await insertCredential(AGENT.username, "agent_token", creds.agent_token, AGENT_SCOPES),
  );
  return `${statements.join("\n")}\n`;
}
