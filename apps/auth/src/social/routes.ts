import Router from "@koa/router";
import type { Context } from "koa";
import { OutboundPolicy, type Config, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type Provider from "oidc-provider";
import type { Interaction } from "oidc-provider";
import { errors } from "oidc-provider";
import type { SecurityAudit } from "../audit/index.js";
import type { UserCreatedListener } from "../email-verification/index.js";
import type { AuthEvents } from "../metrics.js";
import { registrationContext, resolveAccount, type UpstreamIdentity } from "./accounts.js";
import { accountLinkCallbackPath, linkRoutes } from "./link-routes.js";
import { linkOfferPage, socialErrorPage } from "./pages.js";
import { consumeUpstreamLogin, createUpstreamLogin, lookupState, type ConsumeFailure } from "./pending-logins.js";
import { createLinkOffer, OFFER_COOKIE, OFFER_PATH, OFFER_TTL_SECONDS } from "./pending-links.js";
import { upstreamProblem, usableProvider as findUsableProvider } from "./provider-access.js";
import { UpstreamClient, UpstreamError, type UpstreamProvider } from "./upstream.js";
import { saveState } from "../interactions/state.js";
import { pageNonce, sendPage } from "../views/send-page.js";

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

export interface SocialLoginDeps {
  provider: () => Provider;
  sql: Sql;
  config: Config;
  logger: Logger;
  encryptionKey: Buffer;
  brand: string;
  /**
   * The account forms' CSRF tokens (linking from the account page). The sign-in routes are GETs
   * that need none: starting a sign-in requires this browser's interaction cookie, which a
   * cross-site page cannot make the browser send for an interaction it does not know.
   */
  csrfSecret: Buffer;
  /** Default: a client with 10 s timeouts, 10 min discovery cache and OutboundPolicy.fromConfig(config). */
  upstream?: UpstreamClient;
  /** Told about every user registered here (e.g. to mail a verification link to an unverified address). */
  userCreated?: UserCreatedListener;
  /** Logins by provider type and result (metrics). */
  events?: AuthEvents;
  /** Logins and identities linked, in the audit log. */
  audit?: SecurityAudit;
}

const MAX_PARAM_LENGTH = 512;

const queryParam = (ctx: Context, name: string): string | undefined => {
  const v = ctx.query[name];
  return typeof v === "string" && v !== "" && v.length <= MAX_PARAM_LENGTH ? v : undefined;
};

export function socialLoginRoutes(deps: SocialLoginDeps): Router {
  const { sql, config, logger, encryptionKey, brand } = deps;
  const upstream = deps.upstream ?? new UpstreamClient({ userAgent: `${brand} (altalune auth)`, outbound: OutboundPolicy.fromConfig(config) });
  const router = new Router();
  const issuer = config.auth.issuer.replace(/\/+$/, "");
  const redirectUriOf = (slug: string) => `${issuer}/login/${slug}/callback`;
  const interactionHref = (uid: string) => `/interaction/${encodeURIComponent(uid)}`;

  function fail(ctx: Context, status: 400 | 502, title: string, message: string, backUid?: string): void {
    sendPage(
      ctx,
      socialErrorPage({
        brand,
        ...pageNonce(ctx),
        title,
        message,
        ...(backUid === undefined ? {} : { backHref: interactionHref(backUid) }),
      }),
      status,
    );
  }

  const expiredInteraction = (ctx: Context) =>
    fail(ctx, 400, "Sign-in expired", "This sign-in page is no longer valid. Go back to the application and sign in again.");

  const stateMismatch = (ctx: Context) =>
    fail(
      ctx,
      400,
      "Sign-in could not be verified",
      "The response from the sign-in provider does not belong to a sign-in started in this browser (state mismatch). Go back to the application and sign in again.",
    );

  /** The interaction of this browser, which must be the one in the URL (as the interaction routes check). */
  async function browserInteraction(ctx: Context): Promise<Interaction | undefined> {
    try {
      const interaction = await deps.provider().interactionDetails(ctx.req, ctx.res);
      if (interaction.uid === ctx.params["uid"]) return interaction;
    } catch (e) {
      if (!(e instanceof errors.SessionNotFound)) throw e;
    }
    return undefined;
  }

  /** An enabled provider this server can drive, or an error page (and undefined). */
  async function usableProvider(ctx: Context, slug: string, backUid: string): Promise<UpstreamProvider | undefined> {
    const found = await findUsableProvider({ sql, encryptionKey, logger }, slug);
    if (found.ok) return found.provider;
    fail(ctx, found.problem.status, found.problem.title, found.problem.message, backUid);
    return undefined;
  }

  async function upstreamFailed(ctx: Context, p: UpstreamProvider, e: UpstreamError, uid: string): Promise<void> {
    deps.events?.login(`upstream_${p.providerType}`, "failed");
    await loginFailed(ctx, p, "upstream_error", { upstream: e.kind });
    logger.warn({ provider: p.slug, kind: e.kind, oauthError: e.oauthError, err: e.message }, "upstream sign-in failed");
    const problem = upstreamProblem(p, e);
    fail(ctx, problem.status, problem.title, problem.message, uid);
  }

  /** A sign-in through `p` that did not sign anyone in: nobody is known (no account is named). */
  async function loginFailed(ctx: Context, p: UpstreamProvider, reason: string, extra: Record<string, string> = {}): Promise<void> {
    await deps.audit?.record(ctx, {
      action: "auth.login.failed",
      actorType: "anonymous",
      result: reason,
      details: { method: `upstream_${p.providerType}`, provider: p.slug, reason, ...extra },
    }, { unbounded: true });
  }

  router.get("/interaction/:uid/upstream/:slug", async (ctx) => {
    const interaction = await browserInteraction(ctx);
    if (!interaction) return expiredInteraction(ctx);
    if (interaction.prompt.name !== "login") {
      return fail(ctx, 400, "Already signed in", "This sign-in step is already complete.", interaction.uid);
    }
    const p = await usableProvider(ctx, String(ctx.params["slug"]), interaction.uid);
    if (!p) return;
    let start;
    try {
      start = await upstream.begin(p, redirectUriOf(p.slug));
    } catch (e) {
      if (e instanceof UpstreamError) return upstreamFailed(ctx, p, e, interaction.uid);
      throw e;
    }
    await createUpstreamLogin(sql, encryptionKey, {
      state: start.state,
      owner: { purpose: "login", interactionUid: interaction.uid },
      slug: p.slug,
      nonce: start.nonce,
      codeVerifier: start.codeVerifier,
    });
    ctx.set("cache-control", "no-store");
    ctx.status = 302;
    ctx.redirect(start.url.href);
  });

  // The redirect URI registered at the provider. It learns nothing but where the state belongs.
  router.get("/login/:slug/callback", async (ctx) => {
    const state = queryParam(ctx, "state");
    if (state === undefined) {
      if (queryParam(ctx, "error") !== undefined) {
        return fail(ctx, 400, "Sign-in cancelled", "The sign-in was cancelled at the provider. Go back to the application and sign in again.");
      }
      return stateMismatch(ctx);
    }
    const found = await lookupState(sql, encryptionKey, state);
    switch (found.status) {
      case "unknown":
        return stateMismatch(ctx);
      case "used":
        return fail(ctx, 400, "Sign-in link already used", "This sign-in response was already used. Go back to the application and sign in again.");
      case "expired":
        return fail(ctx, 400, "Sign-in expired", "The sign-in at the provider took too long. Start again.", found.interactionUid);
      case "pending":
        if (found.slug !== String(ctx.params["slug"]).toLowerCase()) return stateMismatch(ctx);
        ctx.set("cache-control", "no-store");
        ctx.status = 303;
        // A link started on the account page finishes there (the signed-in session decides).
        if (found.purpose === "link") return ctx.redirect(`${accountLinkCallbackPath(found.slug)}?${ctx.querystring}`);
        ctx.redirect(`${interactionHref(found.interactionUid)}/upstream/${found.slug}/callback?${ctx.querystring}`);
    }
  });

  router.get("/interaction/:uid/upstream/:slug/callback", async (ctx) => {
    const uid = String(ctx.params["uid"]);
    const slug = String(ctx.params["slug"]).toLowerCase();
    const state = queryParam(ctx, "state");
    const interaction = await browserInteraction(ctx);
    if (!interaction || state === undefined) return stateMismatch(ctx);

    const consumed = await consumeUpstreamLogin(sql, encryptionKey, { state, owner: { purpose: "login", interactionUid: uid }, slug });
    if (!consumed.ok) return consumeFailed(ctx, consumed.reason, uid);
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

    const p = await usableProvider(ctx, slug, uid);
    if (!p) return;
    let identity: UpstreamIdentity;
    try {
      identity = await upstream.complete(p, redirectUriOf(p.slug), new URLSearchParams(ctx.querystring), {
        state,
        nonce: consumed.login.nonce,
        codeVerifier: consumed.login.codeVerifier,
      });
    } catch (e) {
      if (e instanceof UpstreamError) return upstreamFailed(ctx, p, e, uid);
      throw e;
    }

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
      await loginFailed(ctx, p, result.outcome === "refused" ? result.reason : "link_required");
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
      ctx.set("cache-control", "no-store");
      ctx.status = 303;
      ctx.redirect(interactionHref(uid));
      return;
    }
    ctx.respond = false;
    await deps.provider().interactionFinished(ctx.req, ctx.res, { login: { accountId: user.publicId, amr: ["fed"] } }, { mergeWithLastSubmission: false });
  });

  function consumeFailed(ctx: Context, reason: ConsumeFailure, uid: string): void {
    switch (reason) {
      case "used":
        return fail(ctx, 400, "Sign-in link already used", "This sign-in response was already used. Go back to the application and sign in again.");
      case "expired":
        return fail(ctx, 400, "Sign-in expired", "The sign-in at the provider took too long. Start again.", uid);
      case "unknown":
      case "mismatch":
        return stateMismatch(ctx);
    }
  }

  linkRoutes(router, { ...deps, upstream, redirectUriOf });
  return router;
}
