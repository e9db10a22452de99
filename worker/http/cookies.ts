/**
 * Cookie names and the one way this service sets them: HttpOnly unless a page
 * must read it (the CSRF cookie), SameSite per contract, and Secure whenever the
 * request came over https or the service runs anywhere but locally.
 */
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { configFrom } from "../config";
import type { AppContext } from "./context";
import { isHttps } from "./context";

export const COOKIES = {
  guestSession: "gg_session",
  adminSession: "gg_admin_session",
  refreshToken: "refresh_token",
  extractSession: "data_extract_session",
  uiSession: "retaia_session",
  /** The UI session's CSRF token, readable by the page (double-submit) so a reload keeps it. */
  uiCsrf: "retaia_csrf",
} as const;

type CookieName = (typeof COOKIES)[keyof typeof COOKIES];

export function readCookie(c: AppContext, name: CookieName): string | undefined {
  return getCookie(c, name) || undefined;
}

export function writeCookie(
  c: AppContext,
  name: CookieName,
  value: string,
  options: { maxAgeSeconds: number; sameSite: "Strict" | "Lax"; path?: string; readableByPage?: boolean },
): void {
  setCookie(c, name, value, {
    httpOnly: !options.readableByPage,
    secure: secure(c),
    sameSite: options.sameSite,
    path: options.path ?? "/",
    maxAge: options.maxAgeSeconds,
  });
}

export function clearCookie(c: AppContext, name: CookieName, path = "/"): void {
  deleteCookie(c, name, { path, secure: secure(c), httpOnly: true });
}

function secure(c: AppContext): boolean {
  return isHttps(c) || configFrom(c.env).ENVIRONMENT !== "local";
}
