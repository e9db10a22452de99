/** Contract 004 — document extraction, under /api/v1 (auth, jobs, sessions, config, health). */
import { router } from "../../http/router";
import { extractHealth } from "./health";
import { extractSessionRoutes } from "./session";

export const extract = router().route("/", extractSessionRoutes).route("/", extractHealth);
