/** Contract 001 — the image → clip → final-video pipeline, under /api. */
import { router } from "../../http/router";
import { pipelineAuth } from "./auth";

export const pipeline = router().route("/", pipelineAuth);
