/** Contract 000 — media generation, at the root paths. */
import { router } from "../../http/router";
import { adminAccountActions } from "./admin-account-actions";
import { adminAccounts } from "./admin-accounts";
import { adminAgents } from "./admin-agents";
import { adminHealth } from "./admin-health";
import { adminJobs } from "./admin-jobs";
import { adminLogs } from "./admin-logs";
import { adminSession } from "./admin-session";
import { gallery } from "./gallery";
import { generate } from "./generate";
import { media } from "./media";
import { models } from "./models";
import { results } from "./results";
import { session } from "./session";
import { status } from "./status";

export const mediaGeneration = router()
  .route("/", session)
  .route("/", adminSession)
  .route("/", adminAgents)
  .route("/", adminJobs)
  .route("/", adminAccounts)
  .route("/", adminAccountActions)
  .route("/", adminLogs)
  .route("/", adminHealth)
  .route("/", media)
  .route("/", models)
  .route("/", generate)
  .route("/", status)
  .route("/", results)
  .route("/", gallery);
