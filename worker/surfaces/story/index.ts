/** Contract 002 — step-by-step story videos, under /api. */
import { router } from "../../http/router";
import { storyAuth } from "./auth";

export const story = router().route("/", storyAuth);
