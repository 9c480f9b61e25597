import { createHash } from "node:crypto";
import type Router from "@koa/router";
import type { Context } from "koa";
import type { Clock } from "@altalune/core";
import type { UserTokenClaims } from "@altalune/access-tokens";
import type { BffUsers } from "./bff-user.js";
import type { BffDeps, BffTokenClient } from "./deps.js";
import { problem } from "./problem.js";
import { temporarilyUnavailable, type RequestGuards } from "./request-guards.js";
import type { TokenCookies } from "./token-cookies.js";
import { isTemporaryTokenFailure, TokenEndpointError, type TokenSet } from "./token-client.js";

// A refresh answered moments ago is handed to requests that arrive late with the same (now
// rotated) refresh token: several tabs refreshing at once all end up with the same new cookies.
// As long as the auth server's own reuse leeway, no longer: past it, the old token is reuse.
const REFRESH_MEMORY_MS = 3_000;

interface RefreshOutcome {
  tokens: TokenSet;
  claims: UserTokenClaims;
}

export interface TokenRouteParts {
  deps: BffDeps;
  clock: Clock;
  cookies: TokenCookies;
  guards: RequestGuards;
  users: BffUsers;
}

/** The calls that reach the token endpoint with the dashboard's secret: POST /exchange and /refresh. */
export function tokenRoutes(router: Router, parts: TokenRouteParts): void {
  const { deps, clock, cookies, guards, users } = parts;
  const { logger } = deps;
  const dashboardRedirectUris = new Set(deps.config.dashboardClient.redirectUris);
  const recentRefreshes = new Map<string, { at: number; outcome: Promise<RefreshOutcome> }>();

  /** Origin and body checked, the client configured, the caller's budget not spent: the client, or undefined (answered). */
  async function admit(ctx: Context, opts: { bodyless?: boolean } = {}): Promise<BffTokenClient | undefined> {
    if (!guards.stateChange(ctx, opts)) return undefined;
    const tokens = guards.tokens(ctx);
    if (tokens === undefined) return undefined;
    return (await guards.withinTokenLimit(ctx)) ? tokens : undefined;
  }

  router.post("/exchange", async (ctx) => {
    const tokens = await admit(ctx);
    if (tokens === undefined) return;
    const body = await guards.jsonObject(ctx);
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
    const claims = await users.verify(set.accessToken);
    cookies.set(ctx, set);
    users.answer(ctx, claims);
  });

  router.post("/refresh", async (ctx) => {
    const tokens = await admit(ctx, { bodyless: true });
    if (tokens === undefined) return;
    const presented = cookies.refresh(ctx);
    if (presented === undefined || presented === "") {
      problem(ctx, 401, "not_authenticated", "no refresh token");
      return;
    }
    const key = createHash("sha256").update(presented).digest("hex");
    for (const [k, v] of recentRefreshes) if (clock().getTime() - v.at > REFRESH_MEMORY_MS) recentRefreshes.delete(k);
    let entry = recentRefreshes.get(key);
    if (entry === undefined) {
      const outcome = tokens.refresh(presented).then(async (set) => ({ tokens: set, claims: await users.verify(set.accessToken) }));
      entry = { at: clock().getTime(), outcome };
      recentRefreshes.set(key, entry);
      // A failure must not be replayed to later callers (their retry may succeed).
      outcome.catch(() => recentRefreshes.delete(key));
    }
    try {
      const { tokens: set, claims } = await entry.outcome;
      cookies.set(ctx, set);
      users.answer(ctx, claims);
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
        cookies.clear(ctx);
        problem(ctx, 401, "refresh_failed", "the session has ended; sign in again");
      }
    }
  });
}
