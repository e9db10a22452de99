/**
 * Every credential type, presented in every other contract's credential slot:
 * each is refused with that surface's status and error shape, and each refusal
 * is audited. Afterwards the credential still works where it belongs, so the
 * refusals are about the contract, not about a spent credential.
 */
import { describe, expect, it } from "vitest";
import {
  expectAuthFailedAudit,
  makeAdmin,
  makeAdminSession,
  makeAgent,
  makeApiKey,
  makeGuestSession,
  makeRefreshToken,
  makeSignedToken,
  makeUiSession,
  makeUser,
} from "../helpers/fixtures";
import { type CallOptions, call, expect000, expect003, expectDetail } from "../helpers/http";
import { callProbe, PROBES } from "../helpers/probe";

interface Slot {
  name: string;
  send: (value: string) => Promise<Response>;
  /** Asserts the refusal's status and shape. */
  refused: (response: Response) => Promise<unknown>;
  /** The audit row's credential name. */
  audited: string;
}

const get = (path: string, options: CallOptions) => call(path, options);

const SLOTS: Slot[] = [
  {
    name: "000 gg_session cookie",
    send: (v) => get("/auth/session", { cookies: { gg_session: v } }),
    refused: (r) => expect000(r, 401, "generation_session_invalid"),
    audited: "gg_session",
  },
  {
    name: "000 gg_admin_session cookie",
    send: (v) => get("/admin/session", { cookies: { gg_admin_session: v } }),
    refused: (r) => expect000(r, 401, "admin_session_required"),
    audited: "gg_admin_session",
  },
  {
    name: "000 x-admin-key",
    send: (v) => call("/admin/session", { method: "POST", headers: { "x-admin-key": v } }),
    refused: (r) => expect000(r, 403, "invalid_admin_key"),
    audited: "admin_key",
  },
  {
    name: "000 X-API-Key",
    send: (v) => callProbe(PROBES.generation, { headers: { "x-api-key": v } }),
    refused: (r) => expect000(r, 403, "invalid_api_key"),
    audited: "api_key",
  },
  {
    name: "001 bearer",
    send: (v) => get("/api/auth/me", { bearer: v }),
    refused: (r) => expectDetail(r, 401, "Could not validate credentials"),
    audited: "pipeline_token",
  },
  {
    name: "002 bearer",
    send: (v) => callProbe(PROBES.story, { bearer: v }),
    refused: (r) => expectDetail(r, 401, "Unauthorized"),
    audited: "story_token",
  },
  {
    name: "002 refresh_token cookie",
    send: (v) => call("/api/refresh", { method: "POST", cookies: { refresh_token: v } }),
    refused: (r) => expectDetail(r, 401, "Invalid refresh token"),
    audited: "refresh_token",
  },
  {
    name: "003 bearer",
    send: (v) => get("/api/v1/actor", { bearer: v }),
    refused: (r) => expect003(r, 401, "UNAUTHORIZED"),
    audited: "agent_token",
  },
  {
    name: "003 retaia_session cookie",
    send: (v) => get("/api/v1/actor", { cookies: { retaia_session: v } }),
    refused: (r) => expect003(r, 401, "UNAUTHORIZED"),
    audited: "ui_session",
  },
  {
    name: "004 x-api-key",
    send: (v) => get("/api/v1/health?detailed=true", { headers: { "x-api-key": v } }),
    refused: (r) => expectDetail(r, 401, "Unauthorized"),
    audited: "api_key",
  },
  {
    name: "004 data_extract_session cookie",
    send: (v) => get("/api/v1/health?detailed=true", { cookies: { data_extract_session: v } }),
    refused: (r) => expectDetail(r, 401, "Unauthorized"),
    audited: "extract_cookie",
  },
];

interface Credential {
  value: string;
  /** The slots where this credential is valid. */
  own: string[];
}

const CREDENTIALS: [string, () => Promise<Credential>][] = [
  // One API key serves 000's X-API-Key and 004's x-api-key alike.
  [
    "a user API key",
    async () => ({ value: (await makeApiKey((await makeUser()).id)).secret, own: ["000 X-API-Key", "004 x-api-key"] }),
  ],
  ["a gg_session", async () => ({ value: (await makeGuestSession()).secret, own: ["000 gg_session cookie"] })],
  [
    "a gg_admin_session",
    async () => ({ value: (await makeAdminSession()).secret, own: ["000 gg_admin_session cookie"] }),
  ],
  ["an admin key", async () => ({ value: (await makeAdmin()).key, own: ["000 x-admin-key"] })],
  ["a 001 JWT", async () => ({ value: await makeSignedToken("pipeline", (await makeUser()).id), own: ["001 bearer"] })],
  [
    "a 002 access token",
    async () => ({ value: await makeSignedToken("story", (await makeUser()).id), own: ["002 bearer"] }),
  ],
  [
    "a 002 refresh token",
    async () => ({ value: (await makeRefreshToken((await makeUser()).id)).secret, own: ["002 refresh_token cookie"] }),
  ],
  ["a 003 agent token", async () => ({ value: (await makeAgent()).token, own: ["003 bearer"] })],
  [
    "a 003 UI session",
    async () => ({ value: (await makeUiSession((await makeUser()).id)).secret, own: ["003 retaia_session cookie"] }),
  ],
  [
    "a 004 session cookie",
    async () => {
      const user = await makeUser();
      const key = await makeApiKey(user.id);
      return {
        value: await makeSignedToken("extract", user.id, 600, key.id),
        own: ["004 data_extract_session cookie"],
      };
    },
  ],
];

describe("credentials used on another contract's routes", () => {
  it.each(CREDENTIALS)(
    "%s is refused in every foreign slot, in that surface's shape, and audited",
    async (_name, make) => {
      const credential = await make();
      const foreign = SLOTS.filter((slot) => !credential.own.includes(slot.name));
      expect(foreign.length).toBeGreaterThanOrEqual(SLOTS.length - 2);
      for (const slot of foreign) {
        const response = await slot.send(credential.value);
        try {
          await slot.refused(response);
          await expectAuthFailedAudit(response, { credential: slot.audited });
        } catch (error) {
          throw new Error(`${slot.name}: ${(error as Error).message}`);
        }
      }
      for (const slot of SLOTS.filter((s) => credential.own.includes(s.name))) {
        const response = await slot.send(credential.value);
        expect(response.status, `${slot.name} still accepts it`).toBe(200);
      }
    },
  );
});
