/** Contract 003 — the rushes catalogue and the agent protocol, under /api/v1. */
import { router } from "../../http/router";
import { agents } from "./agents";
import { jobOutputs } from "./job-outputs";
import { jobRoutes } from "./jobs";
import { uiSession } from "./ui-session";

export const catalog = router().route("/", uiSession).route("/", agents).route("/", jobRoutes).route("/", jobOutputs);
