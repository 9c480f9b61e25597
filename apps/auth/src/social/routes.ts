import Router from "@koa/router";
import { OutboundPolicy } from "@altalune/core";
import type { SocialLoginDeps } from "./deps.js";
import { linkRoutes } from "./link-routes.js";
import { loginCallbackRoute } from "./login-callback.js";
import { loginStartRoutes } from "./login-start.js";
import { signInProblems } from "./sign-in-problems.js";
import { UpstreamClient } from "./upstream.js";

/**
 * Sign-in through an upstream identity provider, inside an oidc-provider Interaction:
 *
 *   GET /interaction/:uid/upstream/:slug            → 302 to the provider (state, nonce, PKCE kept
 *                                                     in altalune_upstream_logins)
 *   GET /login/:slug/callback?code&state            ← the provider sends the browser back here (the
 *                                                     redirect URI registered there); the state
 *                                                     names the interaction → 303 to:
 *   GET /interaction/:uid/upstream/:slug/callback   the interaction cookie (path /interaction/:uid)
 *                                                     reaches only this path: the browser must hold
 *                                                     the interaction the state was made for; then
 *                                                     the state is consumed, the code exchanged,
 *                                                     the account resolved and the login finished.
 *
 * The second hop is what binds the response to the browser that started the sign-in: a callback
 * URL replayed in another browser (login CSRF) has no interaction cookie there and is refused
 * before anything is consumed or created.
 *
 * A verified address that belongs to an existing account does not sign in: the callback offers
 * to link the identity once that account has signed in here (link offer, pending-links.ts), and
 * the account page links identities for its signed-in user (link-routes.ts).
 */
export function socialLoginRoutes(deps: SocialLoginDeps): Router {
  const { config, brand } = deps;
  const upstream = deps.upstream ?? new UpstreamClient({ userAgent: `${brand} (altalune auth)`, outbound: OutboundPolicy.fromConfig(config) });
  const issuer = config.auth.issuer.replace(/\/+$/, "");
  const routeDeps = { ...deps, upstream, redirectUriOf: (slug: string) => `${issuer}/login/${slug}/callback` };
  const problems = signInProblems(routeDeps);
  const router = new Router();
  loginStartRoutes(router, routeDeps, problems);
  loginCallbackRoute(router, routeDeps, problems);
  linkRoutes(router, routeDeps);
  return router;
}
