import type Router from "@koa/router";
import { browserInteraction } from "../interactions/browser-interaction.js";
import { seeOther } from "../views/send-page.js";
import type { SocialRouteDeps } from "./deps.js";
import { accountLinkCallbackPath } from "./link-routes.js";
import { lookupState } from "./pending-logins.js";
import type { SignInProblems } from "./sign-in-problems.js";
import { interactionHref, queryParam } from "./sign-in-urls.js";
import { UpstreamError } from "./upstream.js";
import { upstreamHops } from "./upstream-hops.js";

/**
 * The first two hops of a social sign-in: from the interaction to the provider, and the
 * provider's redirect URI, which sends the browser on to whichever flow the state belongs to.
 */
export function loginStartRoutes(router: Router, deps: SocialRouteDeps, problems: SignInProblems): void {
  const { sql, encryptionKey } = deps;
  const hops = upstreamHops(deps);

  router.get("/interaction/:uid/upstream/:slug", async (ctx) => {
    const interaction = await browserInteraction(deps.provider(), ctx);
    if (!interaction) return problems.expiredInteraction(ctx);
    if (interaction.prompt.name !== "login") {
      return problems.fail(ctx, 400, "Already signed in", "This sign-in step is already complete.", interaction.uid);
    }
    const p = await problems.usableProvider(ctx, String(ctx.params["slug"]), interaction.uid);
    if (!p) return;
    const url = await hops.begin(p, { purpose: "login", interactionUid: interaction.uid });
    if (url instanceof UpstreamError) return problems.upstreamFailed(ctx, p, url, interaction.uid);
    ctx.set("cache-control", "no-store");
    ctx.status = 302;
    ctx.redirect(url.href);
  });

  // The redirect URI registered at the provider. It learns nothing but where the state belongs.
  router.get("/login/:slug/callback", async (ctx) => {
    const state = queryParam(ctx, "state");
    if (state === undefined) {
      if (queryParam(ctx, "error") !== undefined) {
        return problems.fail(ctx, 400, "Sign-in cancelled", "The sign-in was cancelled at the provider. Go back to the application and sign in again.");
      }
      return problems.stateMismatch(ctx);
    }
    const found = await lookupState(sql, encryptionKey, state);
    if (found.status !== "pending") return problems.consumeFailed(ctx, found.status, found.status === "unknown" ? undefined : found.interactionUid);
    if (found.slug !== String(ctx.params["slug"]).toLowerCase()) return problems.stateMismatch(ctx);
    // A link started on the account page finishes there (the signed-in session decides).
    if (found.purpose === "link") return seeOther(ctx, `${accountLinkCallbackPath(found.slug)}?${ctx.querystring}`);
    seeOther(ctx, `${interactionHref(found.interactionUid)}/upstream/${found.slug}/callback?${ctx.querystring}`);
  });
}
