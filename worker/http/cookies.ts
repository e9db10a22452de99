/**
 * Cookie names and the one way this service sets them: HttpOnly always,
 * SameSite per contract, Secure whenever the request came over https.
 */
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppContext } from "./context";
import { isHttps } from "./context";

export const COOKIES = {
  guestSession: "gg_session",
  adminSession: "gg_admin_session",
  refreshToken: "refresh_token",
  extractSession: "data_extract_session",
  uiSession: "retaia_session",
} as const;

type CookieName = (typeof COOKIES)[keyof typeof COOKIES];

export function readCookie(c: AppContext, name: CookieName): string | undefined {
  return getCookie(c, name) || undefined;
}

export function writeCookie(
  c: AppContext,
  name: CookieName,
  value: string,
  options: { maxAgeSeconds: number; sameSite: "Strict" | "Lax"; path?: string },
): void {
  setCookie(c, name, value, {
    httpOnly: true,
    secure: isHttps(c),
    sameSite: options.sameSite,
    path: options.path ?? "/",
    maxAge: options.maxAgeSeconds,
  });
}

export function clearCookie(c: AppContext, name: CookieName, path = "/"): void {
  deleteCookie(c, name, { path, secure: isHttps(c), httpOnly: true });
}
