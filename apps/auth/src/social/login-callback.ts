import type Router from "@koa/router";
import type { Context } from "koa";
import type { Interaction } from "oidc-provider";
import { browserInteraction } from "../interactions/browser-interaction.js";
import { saveState } from "../interactions/state.js";
import { pageNonce, seeOther, sendPage } from "../views/send-page.js";
import { registrationContext, resolveAccount, type AccountResolution } from "./accounts.js";
import type { SocialRouteDeps } from "./deps.js";
import { linkOfferPage } from "./pages.js";
import { createLinkOffer, OFFER_COOKIE, OFFER_PATH, OFFER_TTL_SECONDS } from "./pending-links.js";
import { consumeUpstreamLogin } from "./pending-logins.js";
import type { SignInProblems } from "./sign-in-problems.js";
import { interactionHref, queryParam } from "./sign-in-urls.js";
import { UpstreamError, type UpstreamProvider } from "./upstream.js";
import { upstreamHops } from "./upstream-hops.js";

type SignedInUser = Extract<AccountResolution, { outcome: "signed_in" | "registered" }>;

/**
 * The last hop (GET /interaction/:uid/upstream/:slug/callback): the interaction cookie reaches
 * only this path, so the browser must hold the interaction the state was made for; then the
 * state is consumed, the code exchanged, the account resolved and the login finished.
 */
export function loginCallbackRoute(router: Router, deps: SocialRouteDeps, problems: SignInProblems): void {
  const { sql, config, logger, encryptionKey, brand } = deps;
  const hops = upstreamHops(deps);
  const { fail } = problems;

  router.get("/interaction/:uid/upstream/:slug/callback", async (ctx) => {
    const uid = String(ctx.params["uid"]);
    const slug = String(ctx.params["slug"]).toLowerCase();
    const state = queryParam(ctx, "state");
    const interaction = await browserInteraction(deps.provider(), ctx);
    if (!interaction || state === undefined) return problems.stateMismatch(ctx);

    const consumed = await consumeUpstreamLogin(sql, encryptionKey, { state, owner: { purpose: "login", interactionUid: uid }, slug });
    if (!consumed.ok) return problems.consumeFailed(ctx, consumed.reason, uid);
    if (interaction.prompt.name !== "login") {
      return fail(ctx, 400, "Already signed in", "This sign-in step is already complete.", uid);
    }

    const upstreamError = queryParam(ctx, "error");
    if (upstreamError !== undefined) {
      logger.info({ provider: slug, error: upstreamError }, "upstream sign-in ended with an error");
      if (upstreamError === "access_denied") {
        return fail(ctx, 400, "Sign-in cancelled", "The sign-in was cancelled at the provider. You can choose another way to sign in.", uid);
      }
      return fail(ctx, 400, "Sign-in failed", `The sign-in provider reported an error (${upstreamError}). Try again or use another way to sign in.`, uid);
    }

    const p = await problems.usableProvider(ctx, slug, uid);
    if (!p) return;
    const identity = await hops.complete(ctx, p, state, consumed.login);
    if (identity instanceof UpstreamError) return problems.upstreamFailed(ctx, p, identity, uid);

    const clientId = typeof interaction.params["client_id"] === "string" ? interaction.params["client_id"] : undefined;
    const registration = await registrationContext(sql, clientId, config.auth.autoActivate);
    const result = await resolveAccount(sql, identity, registration, {
      registered: async (user) => {
        try {
          await deps.userCreated?.userCreated({ publicId: user.publicId, emailVerified: user.emailVerified });
        } catch (e) {
          logger.error({ user: user.publicId, err: e instanceof Error ? e.message : String(e) }, "user-created listener failed");
        }
      },
    });
    if (result.outcome !== "signed_in" && result.outcome !== "registered") {
      deps.events?.login(`upstream_${p.providerType}`, result.outcome === "link_required" ? "link_required" : "failed");
      await problems.loginFailed(ctx, p, result.outcome === "refused" ? result.reason : "link_required");
    }
    if (result.outcome === "refused") {
      logger.warn({ provider: p.slug, reason: result.reason }, "upstream sign-in refused");
      if (result.reason === "unverified_email") {
        return fail(
          ctx,
          400,
          "Email address not verified",
          `${p.displayName} has not verified that this email address is yours, so it cannot be used to sign in here. Verify the address at ${p.displayName}, or sign in with your email address instead.`,
          uid,
        );
      }
      return fail(ctx, 400, "Email address needed", `${p.displayName} did not share an email address, which an account here needs. Allow access to your email address, or use another way to sign in.`, uid);
    }

    if (result.outcome === "link_required") {
      // Not signed in, nothing linked: the offer waits for that account to sign in in this browser.
      const token = await createLinkOffer(sql, { userId: result.userId, identity: result.identity, context: registration });
      ctx.cookies.set(OFFER_COOKIE, token, {
        path: OFFER_PATH,
        httpOnly: true,
        sameSite: "lax",
        secure: config.production,
        signed: false,
        overwrite: true,
        maxAge: OFFER_TTL_SECONDS * 1000,
      });
      logger.info({ provider: p.slug }, "upstream sign-in for an existing account's address: link offered, not signed in");
      return sendPage(
        ctx,
        linkOfferPage({ brand, ...pageNonce(ctx), providerName: p.displayName, confirmHref: OFFER_PATH, backHref: interactionHref(uid) }),
        200,
      );
    }

    await signIn(ctx, interaction, p, result);
  });

  /** A registered or recognised account: signed in, or shown pending activation when inactive. */
  async function signIn(ctx: Context, interaction: Interaction, p: UpstreamProvider, result: SignedInUser): Promise<void> {
    const { user } = result;
    logger.info({ provider: p.slug, user: user.publicId, outcome: result.outcome, active: user.isActive }, "upstream sign-in");
    deps.events?.login(`upstream_${p.providerType}`, user.isActive ? "success" : "pending_activation");
    const who = { actorType: "user", actorId: user.publicId, targetType: "user", targetId: user.publicId } as const;
    const how = { method: `upstream_${p.providerType}`, provider: p.slug, ...(result.outcome === "registered" ? { registered: "true" } : {}) };
    await deps.audit?.record(
      ctx,
      user.isActive
        ? { action: "auth.login.succeeded", ...who, details: how }
        : { action: "auth.login.failed", ...who, result: "pending_activation", details: { ...how, reason: "pending_activation" } },
    );
    if (!user.isActive) {
      // As the interaction routes do for an inactive user: remembered in the interaction, which
      // then shows the pending-activation page instead of finishing the login.
      await saveState(interaction, { pendingUser: user.publicId });
      seeOther(ctx, interactionHref(interaction.uid));
      return;
    }
    ctx.respond = false;
    await deps.provider().interactionFinished(ctx.req, ctx.res, { login: { accountId: user.publicId, amr: ["fed"] } }, { mergeWithLastSubmission: false });
  }
}
