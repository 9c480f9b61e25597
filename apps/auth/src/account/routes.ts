import Router from "@koa/router";
import type { Context } from "koa";
import type { Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type Provider from "oidc-provider";
import type { SecurityAudit } from "../audit/index.js";
import type { EmailVerification } from "../email-verification/index.js";
import { findUserByPublicId, type AccountRecord } from "../provider/accounts.js";
import { ACCOUNT_CALLBACK_PATH, type ClientStore } from "../provider/client-store.js";
import { issueCsrfToken, readForm, verifyCsrfToken } from "../security/index.js";
import { accountMessagePage, accountPage, editProfilePage, formExpiredPage, loggedOutPage, pendingActivationPage } from "../views/index.js";
import { consentsOf, identitiesOf, revokeConsent, updateNames } from "./account-store.js";
import { endLoginSession, finishLogin, RETURN_PATHS, signedIn, startLogin, type ReturnTo, type SignedIn } from "./account-session.js";
import { parseNames } from "./profile-input.js";
import { LINK_START_PATH } from "../social/link-routes.js";
import { linkableProviders } from "../social/login-providers.js";
import type { AuthEvents } from "../metrics.js";
import { pageNonce, seeOther, sendPage } from "../views/send-page.js";

/**
 * The account pages: profile (identities, applications with access, verification), edit
 * profile, sign out. Server-rendered like the login pages, signed in through the provider's
 * login session (account-session.ts), every form CSRF-protected with a token bound to that
 * session.
 */

export interface AccountDeps {
  provider: () => Provider;
  sql: Sql;
  /** Serves the account pages' built-in client to the provider. */
  clients: ClientStore;
  config: Config;
  csrfSecret: Buffer;
  verification: EmailVerification;
  logger: Logger;
  formMaxBytes: number;
  /** Consents revoked (metrics). */
  events?: AuthEvents;
  /** The same, in the audit log. */
  audit?: SecurityAudit;
}

export const ACCOUNT_PATHS = {
  account: RETURN_PATHS.account,
  edit: RETURN_PATHS.edit,
  callback: ACCOUNT_CALLBACK_PATH,
  resendVerification: "/account/resend-verification",
  revokeConsent: "/account/consents/revoke",
  logout: "/account/logout",
} as const;

/** Longest client_id accepted in a revoke form (the column's width). */
const CLIENT_ID_MAX = 128;

const VERIFICATION_NOTICES = {
  sent: "verification_sent",
  already_verified: "already_verified",
  rate_limited: "verification_rate_limited",
  unknown_user: "verification_failed",
} as const;

const noticeOf = (ctx: Context): { notice?: string } => {
  const notice = ctx.query["notice"];
  return typeof notice === "string" && notice !== "" ? { notice } : {};
};

export function accountRoutes(deps: AccountDeps): Router {
  const { sql, config, csrfSecret, verification, logger } = deps;
  const issuer = config.auth.issuer;
  const brand = config.branding.authServerName;
  // Cookies the account pages set or clear are Secure exactly when the provider's are.
  const secure = config.production;
  deps.clients.enableAccountClient(issuer);
  const router = new Router();
  const csrf = (me: SignedIn) => issueCsrfToken(csrfSecret, me.csrfBinding);

  /**
   * The signed-in user of a page (GET): without a session the browser is sent to sign in and
   * back; a session of a deleted user is ended first.
   */
  async function pageUser(ctx: Context, returnTo: ReturnTo): Promise<{ me: SignedIn; user: AccountRecord } | undefined> {
    const me = await signedIn(deps.provider(), ctx);
    const user = me ? await findUserByPublicId(sql, me.accountId) : undefined;
    if (me && user) return { me, user };
    if (me) await endLoginSession(deps.provider(), ctx, me, secure);
    startLogin(ctx, { issuer, secure, returnTo });
    return undefined;
  }

  /**
   * The signed-in user of a form post, and the form once its CSRF token checks out. Without a
   * session nothing is done and the browser goes to the profile page (which signs in).
   */
  async function formUser(ctx: Context): Promise<{ me: SignedIn; user: AccountRecord; body: URLSearchParams } | undefined> {
    const me = await signedIn(deps.provider(), ctx);
    const user = me ? await findUserByPublicId(sql, me.accountId) : undefined;
    if (!me || !user) {
      seeOther(ctx, ACCOUNT_PATHS.account);
      return undefined;
    }
    const body = await readForm(ctx, deps.formMaxBytes);
    if (!verifyCsrfToken(csrfSecret, me.csrfBinding, body.get("csrf_token"))) {
      sendPage(ctx, formExpiredPage({ brand, ...pageNonce(ctx) }), 403);
      return undefined;
    }
    return { me, user, body };
  }

  function renderPending(ctx: Context, me: SignedIn, user: AccountRecord, notice?: string): void {
    sendPage(
      ctx,
      pendingActivationPage({
        brand,
        ...pageNonce(ctx),
        email: user.email,
        emailVerified: user.emailVerified,
        ...(notice ? { notice } : {}),
        csrfToken: csrf(me),
        resendAction: ACCOUNT_PATHS.resendVerification,
        logoutAction: ACCOUNT_PATHS.logout,
      }),
    );
  }

  function renderEdit(ctx: Context, me: SignedIn, user: AccountRecord, form: { firstName: string; lastName: string; error?: string; saved?: boolean }, status = 200): void {
    sendPage(
      ctx,
      editProfilePage({
        brand,
        ...pageNonce(ctx),
        email: user.email,
        ...form,
        csrfToken: csrf(me),
        action: ACCOUNT_PATHS.edit,
        backHref: ACCOUNT_PATHS.account,
      }),
      status,
    );
  }

  router.get(ACCOUNT_PATHS.account, async (ctx) => {
    const signed = await pageUser(ctx, "account");
    if (!signed) return;
    const { me, user } = signed;
    if (!user.isActive) return renderPending(ctx, me, user, noticeOf(ctx).notice);
    const [identities, consents, linkProviders] = await Promise.all([
      identitiesOf(sql, user.publicId),
      consentsOf(sql, user.publicId),
      linkableProviders(sql, user.publicId),
    ]);
    sendPage(
      ctx,
      accountPage({
        brand,
        ...pageNonce(ctx),
        ...noticeOf(ctx),
        user,
        identities,
        consents,
        linkProviders,
        linkAction: LINK_START_PATH,
        csrfToken: csrf(me),
        editHref: ACCOUNT_PATHS.edit,
        resendVerificationAction: ACCOUNT_PATHS.resendVerification,
        revokeConsentAction: ACCOUNT_PATHS.revokeConsent,
        logoutAction: ACCOUNT_PATHS.logout,
      }),
    );
  });

  router.get(ACCOUNT_PATHS.callback, async (ctx) => {
    const outcome = await finishLogin(deps.provider(), ctx, { issuer, secure });
    if (outcome.ok) return seeOther(ctx, RETURN_PATHS[outcome.returnTo]);
    // A callback opened again (back button, reload) by a browser that is signed in: nothing to finish.
    if (outcome.reason === "no_pending_login" && (await signedIn(deps.provider(), ctx))) return seeOther(ctx, ACCOUNT_PATHS.account);
    logger.info({ reason: outcome.reason }, "account sign-in not completed");
    const message =
      outcome.reason === "upstream_error"
        ? "The sign-in was not completed."
        : "This sign-in could not be verified or has expired.";
    sendPage(
      ctx,
      accountMessagePage({ brand, ...pageNonce(ctx), title: "Sign-in not completed", message, linkHref: ACCOUNT_PATHS.account, linkLabel: "Sign in again" }),
      400,
    );
  });

  router.get(ACCOUNT_PATHS.edit, async (ctx) => {
    const signed = await pageUser(ctx, "edit");
    if (!signed) return;
    const { me, user } = signed;
    if (!user.isActive) return renderPending(ctx, me, user);
    renderEdit(ctx, me, user, { firstName: user.firstName, lastName: user.lastName });
  });

  router.post(ACCOUNT_PATHS.edit, async (ctx) => {
    const signed = await formUser(ctx);
    if (!signed) return;
    const { me, user, body } = signed;
    if (!user.isActive) return renderPending(ctx, me, user);
    const names = parseNames(body.get("first_name"), body.get("last_name"));
    if (!names.ok) return renderEdit(ctx, me, user, { firstName: names.firstName, lastName: names.lastName, error: names.error }, 400);
    await updateNames(sql, user.publicId, names.firstName, names.lastName);
    logger.info({ user: user.publicId }, "profile names updated");
    renderEdit(ctx, me, user, { firstName: names.firstName, lastName: names.lastName, saved: true });
  });

  router.post(ACCOUNT_PATHS.resendVerification, async (ctx) => {
    const signed = await formUser(ctx);
    if (!signed) return;
    let notice: string;
    try {
      notice = VERIFICATION_NOTICES[(await verification.issue(signed.user.publicId)).status];
    } catch (e) {
      logger.error({ user: signed.user.publicId, err: e instanceof Error ? e.message : String(e) }, "verification mail failed");
      notice = "verification_failed";
    }
    seeOther(ctx, `${ACCOUNT_PATHS.account}?notice=${notice}`);
  });

  router.post(ACCOUNT_PATHS.revokeConsent, async (ctx) => {
    const signed = await formUser(ctx);
    if (!signed) return;
    const { me, user, body } = signed;
    if (!user.isActive) return renderPending(ctx, me, user);
    const clientId = (body.get("client_id") ?? "").trim();
    if (clientId === "" || clientId.length > CLIENT_ID_MAX) {
      return sendPage(
        ctx,
        accountMessagePage({ brand, ...pageNonce(ctx), title: "Invalid request", message: "No application was given.", linkHref: ACCOUNT_PATHS.account, linkLabel: "Back to your account" }),
        400,
      );
    }
    const revoked = await revokeConsent(sql, user.publicId, clientId);
    if (revoked === 0) {
      return sendPage(
        ctx,
        accountMessagePage({ brand, ...pageNonce(ctx), title: "Consent not found", message: "This application has no access to your account.", linkHref: ACCOUNT_PATHS.account, linkLabel: "Back to your account" }),
        404,
      );
    }
    logger.info({ user: user.publicId, client: clientId, grants: revoked }, "consent revoked by the user");
    deps.events?.consent("revoked");
    await deps.audit?.record(ctx, {
      action: "auth.consent.revoked",
      actorType: "user",
      actorId: user.publicId,
      targetType: "client",
      targetId: clientId,
      details: { client_id: clientId, grants: String(revoked) },
    });
    seeOther(ctx, `${ACCOUNT_PATHS.account}?notice=consent_revoked`);
  });

  router.post(ACCOUNT_PATHS.logout, async (ctx) => {
    const me = await signedIn(deps.provider(), ctx);
    // Signed out already: nothing to end (and no session to bind a CSRF token to).
    if (me) {
      const body = await readForm(ctx, deps.formMaxBytes);
      if (!verifyCsrfToken(csrfSecret, me.csrfBinding, body.get("csrf_token"))) {
        return sendPage(ctx, formExpiredPage({ brand, ...pageNonce(ctx) }), 403);
      }
      await endLoginSession(deps.provider(), ctx, me, secure);
      logger.info({ user: me.accountId }, "signed out from the account pages");
    }
    sendPage(ctx, loggedOutPage({ brand, ...pageNonce(ctx) }));
  });

  return router;
}
