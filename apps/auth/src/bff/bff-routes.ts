import Router from "@koa/router";
import { corsAnswer, systemClock, type CorsPolicy } from "@altalune/core";
import { bffUsers } from "./bff-user.js";
import { BFF_PATH, BFF_ROUTES, type BffDeps } from "./deps.js";
import { problem } from "./problem.js";
import { requestGuards } from "./request-guards.js";
import { tokenCookies } from "./token-cookies.js";
import { tokenRoutes } from "./token-routes.js";

/**
 * The web client's token endpoints (issue #7): the browser runs authorization code + PKCE with
 * the dashboard client but never holds a token. These routes exchange and refresh with the
 * client's secret and keep the tokens in httpOnly cookies; the Resources API reads the access
 * token cookie. Every answer's user comes from a verified access token.
 */
export function bffRoutes(deps: BffDeps): Router {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const allowedOrigins = new Set([...config.allowedOrigins, new URL(config.auth.issuer).origin]);
  const cookies = tokenCookies(config);
  const guards = requestGuards(deps, allowedOrigins);
  const users = bffUsers(deps, clock);
  const router = new Router({ prefix: BFF_PATH });

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

  tokenRoutes(router, { deps, clock, cookies, guards, users });

  router.get("/me", async (ctx) => {
    const token = cookies.access(ctx);
    if (token === undefined || token === "") {
      problem(ctx, 401, "not_authenticated", "not signed in");
      return;
    }
    try {
      users.answer(ctx, await users.verify(token));
    } catch {
      problem(ctx, 401, "not_authenticated", "the access token is not valid; refresh or sign in again");
    }
  });

  router.post("/logout", async (ctx) => {
    if (!guards.stateChange(ctx, { bodyless: true })) return;
    const refresh = cookies.refresh(ctx);
    if (refresh !== undefined && refresh !== "" && deps.tokens !== undefined) {
      // Revoking the refresh token ends its grant: every token issued from it stops refreshing.
      await deps.tokens.revokeRefreshToken(refresh).catch((e: unknown) => logger.warn({ err: e }, "BFF logout could not revoke the refresh token"));
    }
    await deps.endSession(ctx).catch((e: unknown) => logger.warn({ err: e }, "BFF logout could not end the login session"));
    cookies.clear(ctx);
    ctx.set("cache-control", "no-store");
    ctx.status = 204;
  });

  return router;
}
