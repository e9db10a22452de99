/**
 * The Hono environment every route shares: the generated `Env` bindings and the
 * per-request values middleware fills in.
 */
import type { PrincipalRow } from "./db/client";
import type { Surface } from "./errors/surface";

/** How the caller proved who they are. */
export type CredentialVia =
  | "api_key"
  | "guest_session"
  | "admin_session"
  | "agent_token"
  | "ui_session"
  | "pipeline_token"
  | "story_token"
  | "extract_cookie";

export interface Caller {
  principal: PrincipalRow;
  via: CredentialVia;
  /** The credential row behind an opaque secret; null for self-contained signed tokens. */
  credentialId: string | null;
  scopes: readonly string[];
  actorKind: "human" | "agent";
  /** When this proof lapses (hard expiry or idle timeout); null if it does not. */
  expiresAt: Date | null;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    surface: Surface;
    clientIp: string;
    caller: Caller | undefined;
  };
}
