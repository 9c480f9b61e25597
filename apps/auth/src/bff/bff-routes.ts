import { createHash } from "node:crypto";
import Router from "@koa/router";
import type { Context } from "koa";
import { accessTokenCookieName, corsAnswer, refreshTokenCookieName, type Config, type CorsPolicy, type Logger } from "@altalune/core";
import type { AccessTokenClaims, UserTokenClaims } from "@altalune/resources";
import { contentTypeOf, readBody } from "../security/index.js";
import type { RateLimitResult } from "../rate-limit/index.js";
import { problem } from "./problem.js";
import { RETRY_AFTER_SECONDS } from "../availability/unavailable.js";
import { isTemporaryTokenFailure, TokenEndpointError, type TokenSet } from "./token-client.js";

/** Where the BFF lives; the refresh cookie is sent only here. */
export const BFF_PATH = "/oauth";
/** The BFF's routes under BFF_PATH (the other /oauth/* paths are oidc-provider's). */
export const BFF_ROUTES = ["/exchange", "/refresh", "/me", "/logout"] as const;
const JSON_MAX_BYTES = 8 * 1024;
// A refresh answered moments ago is handed to requests that arrive late with the same (now
// rotated) refresh token: several tabs refreshing at once all end up with the same new cookies.
// As long as the auth server's own reuse leeway, no longer: past it, the old token is reuse.
const REFRESH_MEMORY_MS = 3_000;

export interface BffTokenClient {
  exchangeCode(code: string, codeVerifier: string, redirectUri: string): Promise<TokenSet>;
  refresh(refreshToken: string): Promise<TokenSet>;
  revokeRefreshToken(refreshToken: string): Promise<void>;
}

export interface BffDeps {
  config: Pick<Config, "production" | "cookieDomain" | "allowedOrigins" | "auth" | "dashboardClient">;
  logger: Logger;
  /** The dashboard client; undefined when DASHBOARD_CLIENT_ID/SECRET are not configured. */
  tokens: BffTokenClient | undefined;
  verifier: { verify(token: string): Promise<AccessTokenClaims> };
  /**
   * The token-endpoint budget of one end user (TOKEN_RATE_LIMIT_PER_MINUTE per address): the BFF's
   * own calls skip the endpoint's per-client limit, so one busy web frontend does not throttle all
   * its users as "one client on one address".
   */
  tokenLimit: (ip: string) => Promise<RateLimitResult>;
  /** Ends the auth server's login session of this browser (its signed session cookie), if any. */
  endSession(ctx: Context): Promise<void>;
  now?: () => number;
}

export interface BffUser {
  sub: string;
  email?: string;
  email_verified: boolean;
  name?: string;
  perms: string[];
  memberships: Record<string, string>;
}

function userOf(claims: UserTokenClaims): BffUser {
  return {
    sub: claims.userPublicId,
    ...(claims.email === undefined ? {} : { email: claims.email }),
    email_verified: claims.emailVerified,
    ...(claims.name === undefined ? {} : { name: claims.name }),
    perms: [...claims.permissions].sort(),
    memberships: Object.fromEntries(claims.memberships),
  };
}

interface RefreshOutcome {
  tokens: TokenSet;
  claims: UserTokenClaims;
}

/**
 * The web client's token endpoints (issue #7): the browser runs authorization code + PKCE with
 * the dashboard client but never holds a token. These routes exchange and refresh with the
 * client's secret and keep the tokens in httpOnly cookies; the Resources API reads the access
 * token cookie. Every answer's user comes from a verified access token.
 */
export function bffRoutes(deps: BffDeps): Router {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const secure = config.production;
  const accessCookie = accessTokenCookieName(config.production);
  const refreshCookie = refreshTokenCookieName(config.production);
  const allowedOrigins = new Set([...config.allowedOrigins, new URL(config.auth.issuer).origin]);
  const dashboardRedirectUris = new Set(config.dashboardClient.redirectUris);
  const recentRefreshes = new Map<string, { at: number; outcome: Promise<RefreshOutcome> }>();
  const router = new Router({ prefix: BFF_PATH });

  const setTokenCookies = (ctx: Context, tokens: TokenSet) => {
    ctx.cookies.set(accessCookie, tokens.accessToken, {
      httpOnly: true,
      sameSite: "lax",
      secure,
      path: "/",
      signed: false,
      overwrite: true,
      ...(config.cookieDomain === undefined ? {} : { domain: config.cookieDomain }),
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
  };

  const clearTokenCookies = (ctx: Context) => {
    const base = { httpOnly: true, sameSite: "lax" as const, secure, signed: false, overwrite: true, maxAge: 0 };
    ctx.cookies.set(accessCookie, "", { ...base, path: "/", ...(config.cookieDomain === undefined ? {} : { domain: config.cookieDomain }) });
    ctx.cookies.set(refreshCookie, "", { ...base, path: BFF_PATH });
  };

  // The BFF speaks for a signed-in person: a machine client's token in the cookie is not a session.
  const verifyUser = async (token: string): Promise<UserTokenClaims> => {
    const claims: AccessTokenClaims = await deps.verifier.verify(token);
    if (claims.principal !== "user") throw new Error("not a user's access token");
    return claims;
  };

  const answerWithUser = (ctx: Context, claims: UserTokenClaims) => {
    ctx.set("cache-control", "no-store");
    ctx.body = { user: userOf(claims), expires_in: Math.max(0, Math.floor((claims.expiresAt - now()) / 1000)) };
  };

  // CORS with credentials for the allowed origins; preflights answered here.
  // (packages/core/src/cors.ts, the policy the API's Connect port applies too.)
  const corsPolicy: CorsPolicy = { origins: allowedOrigins, allowMethods: "GET, POST", allowHeaders: "content-type", maxAgeSeconds: 7200 };
  router.use(async (ctx, next) => {
    const answer = corsAnswer(corsPolicy, ctx.get("origin"), ctx.method === "OPTIONS");
    for (const [name, value] of answer.headers) {
      if (name === "vary") ctx.vary(value);
      else ctx.set(name, value);
    }
    if (answer.preflightStatus !== undefined) {
      ctx.status = answer.preflightStatus;
      return;
    }
    await next();
  });

  // Preflights reach the CORS middleware above only through a matching route: one per path.
  for (const path of BFF_ROUTES) {
    router.options(path, (ctx) => {
      ctx.status = 403;
    });
  }

  /**
   * State-changing calls come from an allowed origin (verified with the standard header, as OWASP
   * recommends; browsers send Origin on every POST) and, when they have a body, it is JSON (a
   * cross-site form can send neither). Refresh and logout need no body: a frontend written for
   * the original posts them empty, so `bodyless` accepts an empty request from an allowed origin.
   */
  const guardStateChange = (ctx: Context, opts: { bodyless?: boolean } = {}): boolean => {
    const origin = ctx.get("origin");
    if (origin === "" || !allowedOrigins.has(origin)) {
      problem(ctx, 403, "forbidden_origin", origin === "" ? "an Origin header is required" : `origin ${origin} is not allowed`);
      return false;
    }
    const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get("transfer-encoding") !== "";
    if (opts.bodyless === true && !hasBody) return true;
    if (contentTypeOf(ctx) !== "application/json") {
      problem(ctx, 415, "unsupported_media_type", "send application/json");
      return false;
    }
    return true;
  };

  const readJsonObject = async (ctx: Context): Promise<Record<string, unknown> | undefined> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readBody(ctx, JSON_MAX_BYTES)).toString("utf8"));
    } catch (e) {
      if (e instanceof SyntaxError) {
        problem(ctx, 400, "invalid_request", "the body is not valid JSON");
        return undefined;
      }
      throw e;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      problem(ctx, 400, "invalid_request", "the body must be a JSON object");
      return undefined;
    }
    return parsed as Record<string, unknown>;
  };

  const temporarilyUnavailable = (ctx: Context) => {
    ctx.set("retry-after", String(RETRY_AFTER_SECONDS));
    problem(ctx, 503, "temporarily_unavailable", "the token endpoint is temporarily unavailable; retry shortly");
  };

  const requireTokens = (ctx: Context): BffTokenClient | undefined => {
    if (deps.tokens === undefined) problem(ctx, 503, "not_configured", "the dashboard client is not configured on this server");
    return deps.tokens;
  };

  /** Counts this call against the end user's address; answers 429 + Retry-After when spent. */
  const withinTokenLimit = async (ctx: Context): Promise<boolean> => {
    const result = await deps.tokenLimit(ctx.ip);
    if (result.allowed) return true;
    ctx.set("retry-after", String(result.retryAfterSeconds));
    problem(ctx, 429, "rate_limited", `too many sign-in requests; retry after ${result.retryAfterSeconds} seconds`);
    return false;
  };

  router.post("/exchange", async (ctx) => {
    if (!guardStateChange(ctx)) return;
    const tokens = requireTokens(ctx);
    if (tokens === undefined) return;
    if (!(await withinTokenLimit(ctx))) return;
    const body = await readJsonObject(ctx);
    if (body === undefined) return;
    for (const field of ["code", "code_verifier", "redirect_uri"]) {
      const value = body[field];
      if (typeof value !== "string" || value === "" || value.length > 2048) {
        problem(ctx, 400, "invalid_request", `missing or invalid field: ${field}`);
        return;
      }
    }
    // The BFF exchanges codes with the dashboard's secret for whoever calls it (a non-browser sends
    // any Origin), so it must only take codes issued to the dashboard itself: a code sent to any
    // other redirect URI, even one registered on the client, is someone else's to redeem.
    if (!dashboardRedirectUris.has(body["redirect_uri"] as string)) {
      problem(ctx, 400, "redirect_uri_not_allowed", "redirect_uri is not one of DASHBOARD_REDIRECT_URIS");
      return;
    }
    let set: TokenSet;
    try {
      set = await tokens.exchangeCode(body["code"] as string, body["code_verifier"] as string, body["redirect_uri"] as string);
    } catch (e) {
      if (isTemporaryTokenFailure(e)) {
        logger.warn({ err: e }, "BFF token exchange: the token endpoint is unavailable");
        temporarilyUnavailable(ctx);
      } else if (e instanceof TokenEndpointError && e.oauthError !== undefined) {
        problem(ctx, 400, "token_exchange_failed", `the authorization code was refused (${e.oauthError})`);
      } else {
        throw e;
      }
      return;
    }
    const claims = await verifyUser(set.accessToken);
    setTokenCookies(ctx, set);
    answerWithUser(ctx, claims);
  });

  router.post("/refresh", async (ctx) => {
    if (!guardStateChange(ctx, { bodyless: true })) return;
    const tokens = requireTokens(ctx);
    if (tokens === undefined) return;
    if (!(await withinTokenLimit(ctx))) return;
    const presented = ctx.cookies.get(refreshCookie);
    if (presented === undefined || presented === "") {
      problem(ctx, 401, "not_authenticated", "no refresh token");
      return;
    }
    const key = createHash("sha256").update(presented).digest("hex");
    for (const [k, v] of recentRefreshes) if (now() - v.at > REFRESH_MEMORY_MS) recentRefreshes.delete(k);
    let entry = recentRefreshes.get(key);
    if (entry === undefined) {
      const outcome = tokens.refresh(presented).then(async (set) => ({ tokens: set, claims: await verifyUser(set.accessToken) }));
      entry = { at: now(), outcome };
      recentRefreshes.set(key, entry);
      // A failure must not be replayed to later callers (their retry may succeed).
      outcome.catch(() => recentRefreshes.delete(key));
    }
    try {
      const { tokens: set, claims } = await entry.outcome;
      setTokenCookies(ctx, set);
      answerWithUser(ctx, claims);
    } catch (e) {
      // Only a definite refusal of the refresh token ends the session. A token endpoint that
      // cannot answer for now (database outage, overload, unreachable) has not judged it: a
      // blip must not sign every web user out, so the cookies stay and the browser retries.
      if (isTemporaryTokenFailure(e)) {
        logger.warn({ err: e }, "BFF refresh: the token endpoint is unavailable; session kept");
        temporarilyUnavailable(ctx);
      } else if (e instanceof TokenEndpointError && e.oauthError !== undefined && e.oauthError !== "invalid_grant") {
        // The dashboard client itself was refused (invalid_client, unauthorized_client…): a
        // misconfiguration of this server, not the end of the user's session.
        logger.error({ err: e }, "BFF refresh refused for the dashboard client; session kept");
        problem(ctx, 502, "upstream_error", `the token endpoint refused the dashboard client (${e.oauthError})`);
      } else {
        clearTokenCookies(ctx);
        problem(ctx, 401, "refresh_failed", "the session has ended; sign in again");
      }
    }
  });

  router.get("/me", async (ctx) => {
    const token = ctx.cookies.get(accessCookie);
    if (token === undefined || token === "") {
      problem(ctx, 401, "not_authenticated", "not signed in");
      return;
    }
    try {
      answerWithUser(ctx, await verifyUser(token));
    } catch {
      problem(ctx, 401, "not_authenticated", "the access token is not valid; refresh or sign in again");
    }
  });

  router.post("/logout", async (ctx) => {
    if (!guardStateChange(ctx, { bodyless: true })) return;
    const refresh = ctx.cookies.get(refreshCookie);
    if (refresh !== undefined && refresh !== "" && deps.tokens !== undefined) {
      // Revoking the refresh token ends its grant: every token issued from it stops refreshing.
      await deps.tokens.revokeRefreshToken(refresh).catch((e: unknown) => logger.warn({ err: e }, "BFF logout could not revoke the refresh token"));
    }
    await deps.endSession(ctx).catch((e: unknown) => logger.warn({ err: e }, "BFF logout could not end the login session"));
    clearTokenCookies(ctx);
    ctx.set("cache-control", "no-store");
    ctx.status = 204;
  });

  return router;
}
