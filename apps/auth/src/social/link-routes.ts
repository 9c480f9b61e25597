import type Router from "@koa/router";
import type { Context } from "koa";
import { sha256Hex } from "@altalune/core";
import { signedIn, startLogin, type SignedIn } from "../account/account-session.js";
import { issueCsrfToken, readForm, verifyCsrfToken } from "../security/index.js";
import { accountMessagePage, linkConfirmPage } from "../views/account-pages.js";
import { linkIdentity, type LinkResult } from "./accounts.js";
import { consumeUpstreamLogin } from "./pending-logins.js";
import { dropLinkOffer, findLinkOffer, OFFER_COOKIE, OFFER_PATH, takeLinkOffer } from "./pending-links.js";
import { upstreamProblem, usableProvider } from "./provider-access.js";
import type { SocialRouteDeps } from "./deps.js";
import { UpstreamError, type UpstreamProvider } from "./upstream.js";
import { upstreamHops } from "./upstream-hops.js";
import { formExpiredPage } from "../views/index.js";
import { pageNonce, seeOther, sendPage } from "../views/send-page.js";

/**
 * Linking an upstream identity to an account that has proven itself, the only way an identity
 * reaches an existing account:
 *
 *   POST /account/identities/link            (signed in, CSRF) provider=<slug> → 303 to the provider;
 *                                            the state belongs to this user AND this login session
 *   GET  /login/:slug/callback               (routes.ts) → 303 to:
 *   GET  /account/link/:slug/callback        same session required; code exchanged; the identity is
 *                                            linked to the signed-in user (linked_by account_page)
 *
 *   GET  /account/link/confirm               a link offered at a social sign-in (cookie): signs in
 *                                            first (email code, …), then asks to confirm
 *   POST /account/link/confirm               (CSRF) decision=link → linked_by email_login; cancel
 *
 * A callback opened in another browser, or after signing out or in as someone else, has another
 * session (or none) and is refused before the state is consumed.
 */

export const LINK_START_PATH = "/account/identities/link";
export const accountLinkCallbackPath = (slug: string): string => `/account/link/${slug}/callback`;

const ACCOUNT_PATH = "/account";
const SLUG_MAX = 40;

const LINK_NOTICES: Record<Exclude<LinkResult, "linked_to_other_user">, string> = {
  linked: "identity_linked",
  already_linked: "identity_already_linked",
};

export function linkRoutes(router: Router, deps: SocialRouteDeps): void {
  const { sql, config, logger, encryptionKey, brand, csrfSecret } = deps;
  const hops = upstreamHops(deps);
  const secure = config.production;
  const message = (ctx: Context, status: number, title: string, text: string) =>
    sendPage(ctx, accountMessagePage({ brand, ...pageNonce(ctx), title, message: text, linkHref: ACCOUNT_PATH, linkLabel: "Back to your account" }), status);
  const formExpired = (ctx: Context) => sendPage(ctx, formExpiredPage({ brand, ...pageNonce(ctx) }), 403);

  /** The signed-in, active user of this browser, with their internal id. */
  async function currentUser(ctx: Context): Promise<{ me: SignedIn; id: string; email: string } | undefined> {
    const me = await signedIn(deps.provider(), ctx);
    if (!me) return undefined;
    const [row] = await sql<{ id: string; email: string; is_active: boolean }[]>`
      select id, email, is_active from altalune_users where public_id = ${me.accountId}`;
    return row && row.is_active ? { me, id: row.id, email: row.email } : undefined;
  }

  const sessionHash = (me: SignedIn): string => sha256Hex(me.session.jti);

  async function linked(ctx: Context, result: LinkResult, provider: { slug: string; name: string }, user: string, how: string): Promise<void> {
    logger.info({ user, outcome: result, linkedBy: how }, "upstream identity link");
    if (result === "linked") {
      await deps.audit?.record(ctx, {
        action: "auth.identity.linked",
        actorType: "user",
        actorId: user,
        targetType: "user",
        targetId: user,
        details: { provider: provider.slug, linked_by: how },
        tags: ["identity_linked"],
      });
    }
    const providerName = provider.name;
    if (result === "linked_to_other_user") {
      return message(ctx, 409, "Already linked to another account", `This ${providerName} account is already linked to another account here, so it cannot be linked to yours.`);
    }
    seeOther(ctx, `${ACCOUNT_PATH}?notice=${LINK_NOTICES[result]}`);
  }

  router.post(LINK_START_PATH, async (ctx) => {
    const current = await currentUser(ctx);
    if (!current) return seeOther(ctx, ACCOUNT_PATH);
    const body = await readForm(ctx);
    if (!verifyCsrfToken(csrfSecret, current.me.csrfBinding, body.get("csrf_token"))) return formExpired(ctx);
    const slug = (body.get("provider") ?? "").trim().toLowerCase();
    if (slug === "" || slug.length > SLUG_MAX) return message(ctx, 400, "Invalid request", "No sign-in provider was given.");
    const found = await usableProvider({ sql, encryptionKey, logger }, slug);
    if (!found.ok) return message(ctx, found.problem.status, found.problem.title, found.problem.message);
    const p = found.provider;
    const url = await hops.begin(p, { purpose: "link", userId: current.id, sessionHash: sessionHash(current.me) });
    if (url instanceof UpstreamError) return upstreamFailed(ctx, p, url);
    seeOther(ctx, url.href);
  });

  function upstreamFailed(ctx: Context, p: UpstreamProvider, e: UpstreamError): void {
    logger.warn({ provider: p.slug, kind: e.kind, oauthError: e.oauthError, err: e.message }, "upstream link failed");
    const problem = upstreamProblem(p, e);
    message(ctx, problem.status, problem.title, problem.message);
  }

  router.get("/account/link/:slug/callback", async (ctx) => {
    const slug = String(ctx.params["slug"]).toLowerCase();
    const state = typeof ctx.query["state"] === "string" && ctx.query["state"].length <= 512 ? ctx.query["state"] : undefined;
    const current = await currentUser(ctx);
    const notVerified = () =>
      message(ctx, 400, "Link could not be verified", "This answer from the sign-in provider does not belong to a link started by your account in this browser. Start again from your account page.");
    if (!current || state === undefined) return notVerified();
    const consumed = await consumeUpstreamLogin(sql, encryptionKey, {
      state,
      owner: { purpose: "link", userId: current.id, sessionHash: sessionHash(current.me) },
      slug,
    });
    if (!consumed.ok) {
      if (consumed.reason === "used") return message(ctx, 400, "Link already used", "This answer was already used. Start again from your account page.");
      if (consumed.reason === "expired") return message(ctx, 400, "Link expired", "The sign-in at the provider took too long. Start again from your account page.");
      return notVerified();
    }
    const upstreamError = typeof ctx.query["error"] === "string" ? ctx.query["error"] : undefined;
    if (upstreamError !== undefined) return message(ctx, 400, "Link cancelled", "Nothing was linked.");
    const found = await usableProvider({ sql, encryptionKey, logger }, slug);
    if (!found.ok) return message(ctx, found.problem.status, found.problem.title, found.problem.message);
    const p = found.provider;
    const identity = await hops.complete(ctx, p, state, consumed.login);
    if (identity instanceof UpstreamError) return upstreamFailed(ctx, p, identity);
    const result = await linkIdentity(sql, current.id, identity, { clientId: undefined, clientName: undefined }, "account_page");
    await linked(ctx, result, { slug: p.slug, name: p.displayName }, current.me.accountId, "account_page");
  });

  const clearOffer = (ctx: Context) =>
    ctx.cookies.set(OFFER_COOKIE, "", { path: OFFER_PATH, httpOnly: true, sameSite: "lax", secure, signed: false, overwrite: true, maxAge: 0 });

  async function providerName(slug: string): Promise<string> {
    const [row] = await sql<{ display_name: string }[]>`select display_name from altalune_oauth_providers where slug = ${slug}`;
    return row?.display_name ?? slug;
  }

  router.get(OFFER_PATH, async (ctx) => {
    const offer = await findLinkOffer(sql, ctx.cookies.get(OFFER_COOKIE));
    if (!offer) return message(ctx, 400, "Link expired", "There is no sign-in method waiting to be linked in this browser, or it has expired. Sign in with it again to start over.");
    const me = await signedIn(deps.provider(), ctx);
    // The account proves itself by signing in here (email code, or a method it already has).
    if (!me) return startLogin(ctx, { issuer: config.auth.issuer, secure, returnTo: "link" });
    const current = await currentUser(ctx);
    if (!current || current.id !== offer.userId) {
      return message(ctx, 403, "Signed in to another account", "This sign-in method was offered for another account. Sign out, then sign in with the email address it was offered for.");
    }
    sendPage(
      ctx,
      linkConfirmPage({
        brand,
        ...pageNonce(ctx),
        providerName: await providerName(offer.identity.provider),
        upstreamEmail: offer.identity.email ?? "",
        accountEmail: current.email,
        csrfToken: issueCsrfToken(csrfSecret, current.me.csrfBinding),
        action: OFFER_PATH,
      }),
      200,
    );
  });

  router.post(OFFER_PATH, async (ctx) => {
    const current = await currentUser(ctx);
    if (!current) return seeOther(ctx, OFFER_PATH);
    const body = await readForm(ctx);
    if (!verifyCsrfToken(csrfSecret, current.me.csrfBinding, body.get("csrf_token"))) return formExpired(ctx);
    const token = ctx.cookies.get(OFFER_COOKIE);
    if (body.get("decision") !== "link") {
      const offer = await findLinkOffer(sql, token);
      if (offer?.userId === current.id) await dropLinkOffer(sql, token);
      clearOffer(ctx);
      return seeOther(ctx, `${ACCOUNT_PATH}?notice=link_cancelled`);
    }
    const offer = await takeLinkOffer(sql, token, current.id);
    if (!offer) return message(ctx, 400, "Link expired", "There is no sign-in method waiting to be linked to this account in this browser, or it has expired.");
    clearOffer(ctx);
    const result = await linkIdentity(sql, current.id, offer.identity, offer.context, "email_login");
    await linked(ctx, result, { slug: offer.identity.provider, name: await providerName(offer.identity.provider) }, current.me.accountId, "email_login");
  });
}
