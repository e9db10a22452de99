/** Contract 000 — media generation, at the root paths. */
import { router } from "../../http/router";
import { adminAgents } from "./admin-agents";
import { adminJobs } from "./admin-jobs";
import { adminSession } from "./admin-session";
import { media } from "./media";
import { session } from "./session";

export const mediaGeneration = router()
  .route("/", session)
  .route("/", adminSession)
  .route("/", adminAgents)
  .route("/", adminJobs)
  .route("/", media);
