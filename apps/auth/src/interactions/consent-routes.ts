import type { Context } from "koa";
import type { Interaction } from "oidc-provider";
import { isApiScope } from "@altalune/rpc";
import { isFirstParty } from "../provider/configuration.js";
import { consentPage, describeApiScope } from "../views/index.js";
import { pageNonce, sendPage } from "../views/send-page.js";
import type { InteractionDeps } from "./deps.js";
import { stepCsrfToken, type StepRouter } from "./step-middleware.js";
import { stepPaths, type StepPages } from "./step-pages.js";

/**
 * The consent step: registers its decision (POST consent) and returns what the interaction's
 * page shows at that step (the consent page, or nothing to ask for the first-party dashboard).
 */
export function consentRoutes(router: StepRouter, deps: InteractionDeps, pages: StepPages) {
  const { brand } = deps;

  /** `implicit`: the first-party dashboard, which never asks (not a decision of the user's). */
  async function finishConsent(ctx: Context, interaction: Interaction, implicit = false): Promise<void> {
    const provider = deps.provider();
    const accountId = interaction.session?.accountId;
    if (!accountId) throw new Error("consent without a login");
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = interaction.grantId
      ? ((await provider.Grant.find(interaction.grantId)) ?? new provider.Grant({ accountId, clientId: String(interaction.params["client_id"]) }))
      : new provider.Grant({ accountId, clientId: String(interaction.params["client_id"]) });
    if (missingOIDCScope?.length) grant.addOIDCScope(missingOIDCScope.join(" "));
    if (missingOIDCClaims?.length) grant.addOIDCClaims(missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(" "));
    const grantId = await grant.save();
    deps.events?.consent("granted");
    if (!implicit) {
      const clientId = String(interaction.params["client_id"]);
      await deps.audit?.record(ctx, { action: "auth.consent.granted", actorType: "user", actorId: accountId, targetType: "client", targetId: clientId, details: { client_id: clientId } });
    }
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  router.post("/interaction/:uid/consent", async (ctx) => {
    const { interaction, form } = ctx.state;
    if (interaction.prompt.name !== "consent") return pages.login(ctx, interaction);
    if (form.get("decision") !== "allow") {
      deps.events?.consent("denied");
      ctx.respond = false;
      await deps.provider().interactionFinished(
        ctx.req,
        ctx.res,
        { error: "access_denied", error_description: "the user denied the request" },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    await finishConsent(ctx, interaction);
  });

  /** The interaction's page at the consent prompt. */
  return async function showConsent(ctx: Context, interaction: Interaction): Promise<void> {
    const client = await deps.provider().Client.find(String(interaction.params["client_id"] ?? ""));
    // The first-party dashboard never asks.
    if (isFirstParty(client)) return finishConsent(ctx, interaction, true);
    const requested = [...new Set(String(interaction.params["scope"] ?? "openid").split(" ").filter(Boolean))];
    // Every API scope asked for (the provider already refused those the client may not ask),
    // in our words; the token will carry each only if the user holds it too.
    sendPage(
      ctx,
      consentPage({
        brand,
        ...pageNonce(ctx),
        clientName: client?.clientName ?? "An application",
        scopes: requested.filter((name) => !isApiScope(name)).map((name) => ({ name })),
        apiScopes: requested.filter(isApiScope).map(describeApiScope),
        csrfToken: stepCsrfToken(deps.csrfSecret, interaction.uid),
        action: stepPaths(interaction.uid).consent,
      }),
    );
  };
}
