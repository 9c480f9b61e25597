import type { Context, Next } from "koa";
import { jwtVerify } from "jose";
import type { Sql } from "@altalune/db";
import { findUserByPublicId, standardClaims } from "./accounts.js";
import { localKeySet } from "./local-key-set.js";
import type { KeySet } from "./signing-keys.js";

/**
 * UserInfo for our JWT access tokens. oidc-provider's userinfo endpoint only takes opaque tokens
 * without an audience, but every access token this server hands out is a JWT for the Resources
 * API (resource indicators, default resource), which it cannot look up. So a bearer JWT is
 * verified here against the server's own keys (issuer, API audience, at+jwt, expiry) and answered
 * with the OIDC claims its scopes allow; any other bearer value goes on to oidc-provider.
 */
export function jwtUserinfo(opts: {
  sql: Sql;
  path: string;
  issuer: string;
  audience: string;
  keys: () => KeySet;
}): (ctx: Context, next: Next) => Promise<void> {
  const jwks = localKeySet(opts.keys);

  const fail = (ctx: Context, status: number, error: string, description: string) => {
    ctx.status = status;
    ctx.set("www-authenticate", `Bearer realm="${opts.issuer}", error="${error}", error_description="${description}"`);
    ctx.set("cache-control", "no-store");
    ctx.body = { error, error_description: description };
  };

  return async (ctx, next) => {
    if (ctx.path !== opts.path || (ctx.method !== "GET" && ctx.method !== "POST")) return next();
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i.exec(ctx.get("authorization"));
    if (!match?.[1]) return next();
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1], jwks(), {
        issuer: opts.issuer,
        audience: opts.audience,
        typ: "at+jwt",
        algorithms: ["RS256", "ES256"],
        requiredClaims: ["sub", "exp"],
      }));
    } catch {
      return fail(ctx, 401, "invalid_token", "invalid or expired access token");
    }
    const scopes = new Set(typeof payload["scope"] === "string" ? payload["scope"].split(" ") : []);
    if (!scopes.has("openid")) return fail(ctx, 403, "insufficient_scope", "access token missing openid scope");
    const user = await findUserByPublicId(opts.sql, String(payload.sub));
    if (!user || !user.isActive) return fail(ctx, 401, "invalid_token", "access token subject is not an active user");
    ctx.set("cache-control", "no-store");
    ctx.body = standardClaims(user, scopes);
  };
}
