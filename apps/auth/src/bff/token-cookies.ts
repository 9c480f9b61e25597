import type { Context } from "koa";
import { accessTokenCookieName, refreshTokenCookieName } from "@altalune/core";
import { BFF_PATH, type BffDeps } from "./deps.js";
import type { TokenSet } from "./token-client.js";

export type TokenCookies = ReturnType<typeof tokenCookies>;

/**
 * The httpOnly cookies that hold the web client's tokens: the access token for every path (the
 * Resources API reads it), the refresh token for the BFF's paths only.
 */
export function tokenCookies(config: BffDeps["config"]) {
  const secure = config.production;
  const accessCookie = accessTokenCookieName(config.production);
  const refreshCookie = refreshTokenCookieName(config.production);
  const domain = config.cookieDomain === undefined ? {} : { domain: config.cookieDomain };

  return {
    access: (ctx: Context): string | undefined => ctx.cookies.get(accessCookie),
    refresh: (ctx: Context): string | undefined => ctx.cookies.get(refreshCookie),

    set(ctx: Context, tokens: TokenSet): void {
      ctx.cookies.set(accessCookie, tokens.accessToken, {
        httpOnly: true,
        sameSite: "lax",
        secure,
        path: "/",
        signed: false,
        overwrite: true,
        ...domain,
        maxAge: tokens.expiresIn * 1000,
      });
      if (tokens.refreshToken !== undefined) {
        ctx.cookies.set(refreshCookie, tokens.refreshToken, {
          httpOnly: true,
          sameSite: "lax",
          secure,
          path: BFF_PATH,
          signed: false,
          overwrite: true,
          maxAge: config.auth.refreshTokenTtlSeconds * 1000,
        });
      }
    },

    clear(ctx: Context): void {
      const base = { httpOnly: true, sameSite: "lax" as const, secure, signed: false, overwrite: true, maxAge: 0 };
      ctx.cookies.set(accessCookie, "", { ...base, path: "/", ...domain });
      ctx.cookies.set(refreshCookie, "", { ...base, path: BFF_PATH });
    },
  };
}
