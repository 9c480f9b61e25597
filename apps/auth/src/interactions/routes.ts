import Router from "@koa/router";
import { errorPage } from "../views/index.js";
import { pageNonce, sendPage } from "../views/send-page.js";
import { activationRoutes } from "./activation-routes.js";
import { codeLoginRoutes } from "./code-login-routes.js";
import { consentRoutes } from "./consent-routes.js";
import type { InteractionDeps } from "./deps.js";
import { stateOf } from "./state.js";
import { interactionStep, STEP_PATH, type InteractionStep } from "./step-middleware.js";
import { stepPages } from "./step-pages.js";

/**
 * The pages oidc-provider sends the browser to (its `interactions.url`): email → one-time code →
 * (pending activation) → consent. State between the steps lives in the provider's Interaction
 * (PostgreSQL, bound to the interaction cookie), never in the page. Every form carries a CSRF
 * token bound to the interaction (checked by interactionStep, before any step's handler), and
 * nothing needs JavaScript.
 */
export function interactionRoutes(deps: InteractionDeps): Router {
  const { brand } = deps;
  const router = new Router<InteractionStep>();
  // Registered first: koa-router runs a router's middleware in the order it was added.
  router.use(STEP_PATH, interactionStep(deps));
  const pages = stepPages(deps);
  const showConsent = consentRoutes(router, deps, pages);

  router.get(STEP_PATH, async (ctx) => {
    const { interaction } = ctx.state;
    const state = stateOf(interaction);
    if (interaction.prompt.name === "login") {
      if (state.pendingUser) return pages.pending(ctx, interaction, state.pendingUser);
      if (state.email) return pages.code(ctx, interaction, state.email);
      return pages.login(ctx, interaction);
    }
    if (interaction.prompt.name === "consent") return showConsent(ctx, interaction);
    sendPage(ctx, errorPage({ brand, ...pageNonce(ctx), title: "Unsupported request", message: "This sign-in step is not supported." }), 400);
  });

  codeLoginRoutes(router, deps, pages);
  activationRoutes(router, deps, pages);
  return router;
}
