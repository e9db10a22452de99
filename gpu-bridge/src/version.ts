/** The bridge's version, from its package.json: sent at registration and shown by doctor. */
import { readFileSync } from "node:fs";
import { z } from "zod";

const packageSchema = z.object({ name: z.string(), version: z.string() });
const pkg = packageSchema.parse(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")));

export const BRIDGE_NAME = pkg.name;
export const BRIDGE_VERSION = pkg.version;
export const USER_AGENT = `media-edge-gpu-bridge/${pkg.version}`;
