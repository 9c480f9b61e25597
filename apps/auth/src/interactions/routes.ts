import Router from "@koa/router";
import type { Context } from "koa";
import type { Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type Provider from "oidc-provider";
import type { Interaction, KoaContextWithOIDC } from "oidc-provider";
import { errors } from "oidc-provider";
import type { SecurityAudit } from "../audit/index.js";
import type { EmailVerification } from "../email-verification/index.js";
import type { AuthEvents } from "../metrics.js";
import {
  KNOWN_DEVICE_COOKIE,
  KNOWN_DEVICE_MAX_AGE_SECONDS,
  KNOWN_DEVICE_PATH,
  LOGIN_CODE_DIGITS,
  maskEmail,
  normalizeEmail,
  type KnownDevices,
  type LoginCodeCaller,
  type LoginCodes,
} from "../login-codes/index.js";
import { findUserByPublicId } from "../provider/accounts.js";
import { loginProviders } from "../social/index.js";
import { isFirstParty } from "../provider/configuration.js";
import { issueCsrfToken, readForm, verifyCsrfToken } from "../security/index.js";
import { pageNonce, sendPage } from "../views/send-page.js";
import { loginAudit } from "./login-audit.js";
import { saveState, stateOf } from "./state.js";
import { isApiScope } from "@altalune/resources";
import {
  codePage,
  describeApiScope,
  consentPage,
  errorPage,
  loggedOutPage,
  loginPage,
  logoutConfirmPage,
  pendingActivationPage,
  unavailablePage,
  verifyEmailResultPage,
} from "../views/index.js";

/**
 * The pages oidc-provider sends the browser to (its `interactions.url`): email → one-time code →
 * (pending activation) → consent. State between the steps lives in the provider's Interaction
 * (PostgreSQL, bound to the interaction cookie), never in the page. Every form carries a CSRF
 * token bound to the interaction, and nothing needs JavaScript.
 */

export interface InteractionDeps {
  provider: () => Provider;
  sql: Sql;
  brand: string;
  csrfSecret: Buffer;
  loginCodes: LoginCodes;
  /** Reads and writes the known-device cookie (browsers that signed in to an address before). */
  knownDevices: KnownDevices;
  /** Secure cookies (production, behind TLS). */
  secureCookies: boolean;
  verification: EmailVerification;
  logger: Logger;
  formMaxBytes: number;
  /** Logins, codes sent and consents (metrics). */
  events?: AuthEvents;
  /** The same, in the audit log. */
  audit?: SecurityAudit;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
const CODE = new RegExp(`^\\d{${LOGIN_CODE_DIGITS}}$`);

export function interactionRoutes(deps: InteractionDeps): Router {
  const { brand, csrfSecret, loginCodes, verification, logger } = deps;
  const router = new Router();
  const paths = (uid: string) => ({
    self: `/interaction/${uid}`,
    login: `/interaction/${uid}/login`,
    code: `/interaction/${uid}/code`,
    resendCode: `/interaction/${uid}/resend-code`,
    changeEmail: `/interaction/${uid}/restart`,
    resendVerification: `/interaction/${uid}/resend-verification`,
    abort: `/interaction/${uid}/abort`,
    consent: `/interaction/${uid}/consent`,
  });
  const csrf = (uid: string) => issueCsrfToken(csrfSecret, `interaction:${uid}`);

  /** Who asks for or enters a code: this interaction, and whether this browser signed in to the address before. */
  const caller = (ctx: Context, interaction: Interaction, email: string): LoginCodeCaller => ({
    interaction: interaction.uid,
    knownDevice: deps.knownDevices.knows(ctx.cookies.get(KNOWN_DEVICE_COOKIE), normalizeEmail(email)),
  });

  /** After a correct code: this browser is known for the address from now on (renewed each time). */
  function rememberDevice(ctx: Context, email: string): void {
    const value = deps.knownDevices.remember(ctx.cookies.get(KNOWN_DEVICE_COOKIE), normalizeEmail(email));
    ctx.cookies.set(KNOWN_DEVICE_COOKIE, value, {
      path: KNOWN_DEVICE_PATH,
      httpOnly: true,
      sameSite: "lax",
      secure: deps.secureCookies,
      signed: false,
      overwrite: true,
      maxAge: KNOWN_DEVICE_MAX_AGE_SECONDS * 1000,
    });
  }

  /** The interaction of this browser, which must be the one in the URL. */
  async function load(ctx: Context): Promise<Interaction | undefined> {
    try {
      const interaction = await deps.provider().interactionDetails(ctx.req, ctx.res);
      if (interaction.uid === ctx.params["uid"]) return interaction;
    } catch (e) {
      if (!(e instanceof errors.SessionNotFound)) throw e;
    }
    sendPage(
      ctx,
      errorPage({ brand, ...pageNonce(ctx), title: "Sign-in expired", message: "This sign-in page is no longer valid. Go back to the application and sign in again." }),
      400,
    );
    return undefined;
  }

  /** Reads the form and checks its CSRF token; answers 403 and returns undefined when it fails. */
  async function form(ctx: Context, interaction: Interaction): Promise<URLSearchParams | undefined> {
    const body = await readForm(ctx, deps.formMaxBytes);
    if (!verifyCsrfToken(csrfSecret, `interaction:${interaction.uid}`, body.get("csrf_token"))) {
      sendPage(ctx, errorPage({ brand, ...pageNonce(ctx), title: "Form expired", message: "The form could not be verified. Go back, reload the page and try again." }), 403);
      return undefined;
    }
    return body;
  }

  async function clientName(interaction: Interaction): Promise<string | undefined> {
    const client = await deps.provider().Client.find(String(interaction.params["client_id"] ?? ""));
    return client?.clientName ?? undefined;
  }

  async function renderLogin(ctx: Context, interaction: Interaction, extra: { error?: string; email?: string } = {}, status = 200) {
    const p = paths(interaction.uid);
    const name = await clientName(interaction);
    sendPage(
      ctx,
      loginPage({ brand, ...pageNonce(ctx), ...(name ? { clientName: name } : {}), ...extra, providers: await loginProviders(deps.sql, interaction.uid), csrfToken: csrf(interaction.uid), action: p.login }),
      status,
    );
  }

  function renderCode(ctx: Context, interaction: Interaction, email: string, message: { error?: string; notice?: string } = {}, status = 200) {
    const p = paths(interaction.uid);
    sendPage(
      ctx,
      codePage({
        brand,
        ...pageNonce(ctx),
        maskedEmail: maskEmail(email),
        ...message,
        csrfToken: csrf(interaction.uid),
        action: p.code,
        resendAction: p.resendCode,
        changeEmailHref: p.changeEmail,
      }),
      status,
    );
  }

  async function renderPending(ctx: Context, interaction: Interaction, userPublicId: string, notice?: string) {
    const p = paths(interaction.uid);
    const user = await findUserByPublicId(deps.sql, userPublicId);
    sendPage(
      ctx,
      pendingActivationPage({
        brand,
        ...pageNonce(ctx),
        email: user?.email ?? "",
        emailVerified: user?.emailVerified ?? false,
        ...(notice ? { notice } : {}),
        csrfToken: csrf(interaction.uid), resendAction: p.resendVerification, logoutAction: p.abort }),
    );
  }

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

  const { codeSent, loggedIn } = loginAudit(deps);

  router.get("/interaction/:uid", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    const state = stateOf(interaction);
    if (interaction.prompt.name === "login") {
      if (state.pendingUser) return renderPending(ctx, interaction, state.pendingUser);
      if (state.email) return renderCode(ctx, interaction, state.email);
      return renderLogin(ctx, interaction);
    }
    if (interaction.prompt.name === "consent") {
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
          csrfToken: csrf(interaction.uid),
          action: paths(interaction.uid).consent,
        }),
      );
      return;
    }
    sendPage(ctx, errorPage({ brand, ...pageNonce(ctx), title: "Unsupported request", message: "This sign-in step is not supported." }), 400);
  });

  router.post("/interaction/:uid/login", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    const body = await form(ctx, interaction);
    if (!body) return;
    const email = (body.get("email") ?? "").trim().toLowerCase();
    if (email === "") return renderLogin(ctx, interaction, { error: "email_required" }, 400);
    if (!EMAIL.test(email)) return renderLogin(ctx, interaction, { error: "invalid_email", email }, 400);
    const result = await loginCodes.request(email, ctx.ip, caller(ctx, interaction, email));
    deps.events?.loginCode(result.status);
    codeSent(ctx, result, email);
    if (result.status === "rate_limited") return renderLogin(ctx, interaction, { error: "rate_limited", email }, 429);
    await saveState(interaction, { email });
    ctx.status = 303;
    ctx.redirect(paths(interaction.uid).self);
  });

  router.post("/interaction/:uid/resend-code", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    const body = await form(ctx, interaction);
    if (!body) return;
    const { email } = stateOf(interaction);
    if (!email) return renderLogin(ctx, interaction);
    const result = await loginCodes.request(email, ctx.ip, caller(ctx, interaction, email));
    deps.events?.loginCode(result.status);
    codeSent(ctx, result, email);
    if (result.status === "rate_limited") return renderCode(ctx, interaction, email, { error: "rate_limited" }, 429);
    return renderCode(ctx, interaction, email, { notice: "code_sent" });
  });

  // A link (GET) on the code page; it only forgets the address typed in this interaction.
  router.get("/interaction/:uid/restart", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    await saveState(interaction, {});
    ctx.status = 303;
    ctx.redirect(paths(interaction.uid).self);
  });

  router.post("/interaction/:uid/code", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    const body = await form(ctx, interaction);
    if (!body) return;
    const { email } = stateOf(interaction);
    if (!email) return renderLogin(ctx, interaction);
    const code = (body.get("code") ?? "").replace(/[\s-]+/g, "");
    if (!CODE.test(code)) return renderCode(ctx, interaction, email, { error: code === "" ? "code_required" : "invalid_code" }, 400);
    const result = await loginCodes.verify(email, code, caller(ctx, interaction, email));
    deps.events?.login("email_code", !result.ok ? "failed" : result.active ? "success" : "pending_activation");
    await loggedIn(ctx, result, email);
    if (!result.ok) return renderCode(ctx, interaction, email, { error: result.reason }, result.reason === "guess_limit" ? 429 : 400);
    rememberDevice(ctx, email);
    if (!result.active) {
      logger.info({ user: result.userPublicId }, "inactive user signed in; pending activation");
      await saveState(interaction, { email, pendingUser: result.userPublicId });
      return renderPending(ctx, interaction, result.userPublicId);
    }
    ctx.respond = false;
    await deps.provider().interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: result.userPublicId, amr: ["otp"] } },
      { mergeWithLastSubmission: false },
    );
  });

  router.post("/interaction/:uid/resend-verification", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    if (!(await form(ctx, interaction))) return;
    const { pendingUser } = stateOf(interaction);
    if (!pendingUser) return renderLogin(ctx, interaction);
    let notice: string;
    try {
      const { status } = await verification.issue(pendingUser);
      notice = { sent: "verification_sent", already_verified: "already_verified", rate_limited: "verification_rate_limited" }[
        status as "sent"
      ] ?? "verification_failed";
    } catch (e) {
      logger.error({ user: pendingUser, err: e instanceof Error ? e.message : String(e) }, "verification mail failed");
      notice = "verification_failed";
    }
    return renderPending(ctx, interaction, pendingUser, notice);
  });

  router.post("/interaction/:uid/abort", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    if (!(await form(ctx, interaction))) return;
    await interaction.destroy();
    sendPage(ctx, loggedOutPage({ brand, ...pageNonce(ctx) }));
  });

  router.post("/interaction/:uid/consent", async (ctx) => {
    const interaction = await load(ctx);
    if (!interaction) return;
    const body = await form(ctx, interaction);
    if (!body) return;
    if (interaction.prompt.name !== "consent") return renderLogin(ctx, interaction);
    if (body.get("decision") !== "allow") {
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

  router.get("/verify-email", async (ctx) => {
    const token = typeof ctx.query["token"] === "string" ? ctx.query["token"] : undefined;
    const result = await verification.verify(token);
    sendPage(ctx, verifyEmailResultPage({ brand, ...pageNonce(ctx), ok: result.ok, ...(result.ok ? {} : { reason: result.reason }) }), result.ok ? 200 : 400);
  });

  return router;
}

/** oidc-provider's own pages (errors, logout confirmation, signed out) in our look. */
export function providerPages(deps: { brand: string; csrfSecret: Buffer }) {
  const { brand } = deps;
  return {
    error(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string | undefined }) {
      ctx.type = "html";
      if (out.error === "temporarily_unavailable") {
        // The database or capacity is away for a moment: "try again", not an error (status 503
        // and Retry-After are set by the provider's error handler and middleware).
        ctx.body = String(unavailablePage({ brand, ...pageNonce(ctx), ...(ctx.method === "GET" ? { retryHref: ctx.originalUrl } : {}) }));
        return;
      }
      ctx.body = String(errorPage({ brand, ...pageNonce(ctx), title: out.error, message: out.error_description ?? "The request cannot be completed." }));
    },
    logout(ctx: KoaContextWithOIDC, _form: string) {
      // oidc-provider's form posts its own xsrf secret (kept in the session) to its confirm route.
      const secret = String((ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? "");
      ctx.type = "html";
      ctx.body = String(
        logoutConfirmPage({
          brand,
          ...pageNonce(ctx),
          csrfToken: secret,
          action: ctx.oidc.urlFor("end_session_confirm"),
          ...(ctx.oidc.client?.clientName ? { clientName: ctx.oidc.client.clientName } : {}),
          hiddenFields: { xsrf: secret },
        }),
      );
    },
    loggedOut(ctx: KoaContextWithOIDC) {
      ctx.type = "html";
      ctx.body = String(loggedOutPage({ brand, ...pageNonce(ctx) }));
    },
  };
}
