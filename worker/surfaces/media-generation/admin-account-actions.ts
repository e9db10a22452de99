/**
 * A capacity account's status actions, behind the admin session, audited:
 *   POST /admin/accounts/{id}/deploy    self-hosted: the account's new agent token and the command that
 *                                       starts its bridge (shown once); runpod: a pod started with it
 *   POST /admin/accounts/{id}/disable   its bridges stop (tokens refused), its RunPod pod is terminated
 *   POST /admin/accounts/{id}/enable    back to pending, ready to deploy again
 * A move the status machine forbids is 409 (core/accounts/status.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { adminRoute } from "../../auth/media-generation";
import { configFrom } from "../../config";
import { deployAccount, disableAccount, enableAccount } from "../../core/accounts/lifecycle";
import { readLiveness } from "../../core/accounts/liveness";
import { errors000 } from "../../errors/schemas";
import { db } from "../../http/context";
import { router } from "../../http/router";
import { AccountView, accountIdParam, renderAccount } from "./account-schemas";

const tags = ["Admin (000)"];

const Deployment = z
  .object({
    account: AccountView,
    bridge: z
      .object({
        agent_id: z.number().int(),
        env: z.object({ MEDIA_EDGE_URL: z.string(), GPU_BRIDGE_TOKEN: z.string() }),
        command: z.string().openapi({ description: "Run in a checkout of this repository on the GPU host" }),
      })
      .optional()
      .openapi({ description: "Self-hosted: the token is shown here once and nowhere else" }),
    pod: z
      .object({ id: z.string(), desired_status: z.string().nullable(), cost_per_hour_usd: z.number().nullable() })
      .optional()
      .openapi({ description: "RunPod: the pod started for the account" }),
  })
  .openapi("AccountDeployment");

export const adminAccountActions = router();

adminAccountActions.openapi(
  createRoute({
    method: "post",
    path: "/admin/accounts/{account_id}/deploy",
    tags,
    summary: "Deploy: rotate the account's agent token and start a bridge with it (command or RunPod pod)",
    middleware: [adminRoute("account_deploy")] as const,
    request: { params: accountIdParam },
    responses: {
      200: {
        content: { "application/json": { schema: Deployment } },
        description: "Deploying until a bridge heartbeats",
      },
      404: errors000("No such account"),
      409: errors000("Not deployable from its status, over its monthly limit, or missing credentials"),
      502: errors000("deploy_rejected: RunPod refused the key, quota or settings; the account is disabled"),
      503: errors000("deploy_unavailable (RunPod rate-limited or down; the account is failed) or admin_env_missing"),
    },
  }),
  async (c) => {
    const config = configFrom(c.env);
    const origin = new URL(c.req.url).origin;
    const deployed = await deployAccount(config, db(c), c.req.valid("param").account_id, origin);
    // The body may carry a live token: no cache anywhere may keep it.
    c.header("Cache-Control", "no-store");
    const account = renderAccount(deployed.account, await readLiveness(c.env));
    if (deployed.provider === "self-hosted") {
      return c.json(
        { account, bridge: { agent_id: deployed.agentId, env: deployed.env, command: deployed.command } },
        200,
      );
    }
    const { pod } = deployed;
    return c.json(
      {
        account,
        pod: { id: pod.id, desired_status: pod.desiredStatus ?? null, cost_per_hour_usd: pod.costPerHr ?? null },
      },
      200,
    );
  },
);

for (const action of ["enable", "disable"] as const) {
  adminAccountActions.openapi(
    createRoute({
      method: "post",
      path: `/admin/accounts/{account_id}/${action}`,
      tags,
      summary:
        action === "disable"
          ? "Disable: its bridges' tokens stop working and its RunPod pod is terminated"
          : "Enable a disabled account: back to pending, to be deployed again",
      middleware: [adminRoute(`account_${action}`)] as const,
      request: { params: accountIdParam },
      responses: {
        200: { content: { "application/json": { schema: AccountView } }, description: "Moved" },
        404: errors000("No such account"),
        409: errors000("Already in that state"),
      },
    }),
    async (c) => {
      const id = c.req.valid("param").account_id;
      const row =
        action === "disable" ? await disableAccount(configFrom(c.env), db(c), id) : await enableAccount(db(c), id);
      return c.json(renderAccount(row, await readLiveness(c.env)), 200);
    },
  );
}
