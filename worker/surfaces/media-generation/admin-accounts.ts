/**
 * Contract 000 `/admin/accounts*`: GPU capacity accounts, behind the admin
 * session, every call audited by adminRoute.
 *   GET    /admin/accounts                 {accounts: [...]} (?status= filters)
 *   POST   /admin/accounts                 201 the account, pending
 *   GET    /admin/accounts/{id}            the account with its bridges' health
 *   PATCH  /admin/accounts/{id}            label, limit, rate, credentials, RunPod settings, reset_usage
 *   DELETE /admin/accounts/{id}            204 (a RunPod pod is terminated first)
 * The status actions (enable, disable, deploy) are in admin-account-actions.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { adminRoute } from "../../auth/media-generation";
import { configFrom } from "../../config";
import { deleteAccount } from "../../core/accounts/lifecycle";
import { readLiveness } from "../../core/accounts/liveness";
import { findAccount } from "../../core/accounts/status";
import { changeAccount, createAccount, listAccounts } from "../../core/accounts/store";
import { ACCOUNT_STATUSES } from "../../db/schema";
import { errors000 } from "../../errors/schemas";
import { KiB, limitBody } from "../../http/body-limit";
import { db } from "../../http/context";
import { router } from "../../http/router";
import { AccountView, accountIdParam, CreateAccount, PatchAccount, renderAccount } from "./account-schemas";

const tags = ["Admin (000)"];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const adminAccounts = router();

adminAccounts.openapi(
  createRoute({
    method: "get",
    path: "/admin/accounts",
    tags,
    summary: "List GPU capacity accounts with their status, spend and bridges online",
    middleware: [adminRoute("account_list", { bucket: "read" })] as const,
    request: { query: z.object({ status: z.enum(ACCOUNT_STATUSES).optional() }) },
    responses: {
      200: json(z.object({ accounts: z.array(AccountView) }), "Accounts, oldest first"),
      401: errors000("No admin session"),
    },
  }),
  async (c) => {
    const [rows, liveness] = await Promise.all([listAccounts(db(c), c.req.valid("query").status), readLiveness(c.env)]);
    return c.json({ accounts: rows.map((row) => renderAccount(row, liveness)) }, 200);
  },
);

adminAccounts.openapi(
  createRoute({
    method: "post",
    path: "/admin/accounts",
    tags,
    summary: "Add a self-hosted or RunPod capacity account (pending until deployed)",
    middleware: [limitBody(16 * KiB), adminRoute("account_create")] as const,
    request: { body: { content: { "application/json": { schema: CreateAccount } }, required: true } },
    responses: {
      201: json(AccountView, "Created"),
      422: errors000("Invalid account"),
      503: errors000("admin_env_missing: no key to seal the credentials with"),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const row = await createAccount(configFrom(c.env), db(c), {
      label: input.label,
      provider: input.provider,
      monthlyLimitUsd: input.monthly_limit_usd,
      ...(input.provider === "runpod"
        ? { credentials: input.credentials, runpod: input.runpod }
        : { costPerHourUsd: input.cost_per_hour_usd }),
    });
    // Nothing of a new account runs yet: its health is "no bridges", not unknown.
    return c.json(renderAccount(row, new Map()), 201);
  },
);

adminAccounts.openapi(
  createRoute({
    method: "get",
    path: "/admin/accounts/{account_id}",
    tags,
    summary: "One capacity account",
    middleware: [adminRoute("account_read", { bucket: "read" })] as const,
    request: { params: accountIdParam },
    responses: { 200: json(AccountView, "The account"), 404: errors000("No such account") },
  }),
  async (c) => {
    const [row, liveness] = await Promise.all([
      findAccount(db(c), c.req.valid("param").account_id),
      readLiveness(c.env),
    ]);
    return c.json(renderAccount(row, liveness), 200);
  },
);

adminAccounts.openapi(
  createRoute({
    method: "patch",
    path: "/admin/accounts/{account_id}",
    tags,
    summary: "Change an account's label, limit, rate, credentials or RunPod settings, or reset its usage",
    middleware: [limitBody(16 * KiB), adminRoute("account_update")] as const,
    request: {
      params: accountIdParam,
      body: { content: { "application/json": { schema: PatchAccount } }, required: true },
    },
    responses: {
      200: json(AccountView, "Changed"),
      404: errors000("No such account"),
      422: errors000("Invalid change"),
      503: errors000("admin_env_missing: no key to seal the credentials with"),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const account = await findAccount(db(c), c.req.valid("param").account_id);
    const row = await changeAccount(configFrom(c.env), db(c), account, {
      label: input.label,
      monthlyLimitUsd: input.monthly_limit_usd,
      costPerHourUsd: input.cost_per_hour_usd,
      credentials: input.credentials,
      runpod: input.runpod,
      resetUsage: input.reset_usage,
    });
    return c.json(renderAccount(row, await readLiveness(c.env)), 200);
  },
);

adminAccounts.openapi(
  createRoute({
    method: "delete",
    path: "/admin/accounts/{account_id}",
    tags,
    summary: "Delete an account: its RunPod pod is terminated, its agents disabled",
    middleware: [adminRoute("account_delete")] as const,
    request: { params: accountIdParam },
    responses: {
      204: { description: "Deleted" },
      404: errors000("No such account"),
      409: errors000("The local account cannot be deleted"),
    },
  }),
  async (c) => {
    await deleteAccount(configFrom(c.env), db(c), c.req.valid("param").account_id);
    return c.body(null, 204);
  },
);
