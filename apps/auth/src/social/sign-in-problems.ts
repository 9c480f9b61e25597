import type { Context } from "koa";
import { pageNonce, sendPage } from "../views/send-page.js";
import type { SocialRouteDeps } from "./deps.js";
import { socialErrorPage } from "./pages.js";
import type { ConsumeFailure } from "./pending-logins.js";
import { upstreamProblem, usableProvider as findUsableProvider } from "./provider-access.js";
import { interactionHref } from "./sign-in-urls.js";
import type { UpstreamError, UpstreamProvider } from "./upstream.js";

export type SignInProblems = ReturnType<typeof signInProblems>;

/**
 * What a social sign-in answers when it cannot go on: an error page (with a way back to the
 * interaction when there still is one), counted and audited where a provider was involved.
 */
export function signInProblems(deps: Pick<SocialRouteDeps, "sql" | "encryptionKey" | "logger" | "brand" | "events" | "audit">) {
  const { sql, encryptionKey, logger, brand } = deps;

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

  const stateMismatch = (ctx: Context) =>
    fail(
      ctx,
      400,
      "Sign-in could not be verified",
      "The response from the sign-in provider does not belong to a sign-in started in this browser (state mismatch). Go back to the application and sign in again.",
    );

  /** A sign-in through `p` that did not sign anyone in: nobody is known (no account is named). */
  async function loginFailed(ctx: Context, p: UpstreamProvider, reason: string, extra: Record<string, string> = {}): Promise<void> {
    await deps.audit?.record(ctx, {
      action: "auth.login.failed",
      actorType: "anonymous",
      result: reason,
      details: { method: `upstream_${p.providerType}`, provider: p.slug, reason, ...extra },
    }, { unbounded: true });
  }

  return {
    fail,
    stateMismatch,
    loginFailed,

    expiredInteraction: (ctx: Context) =>
      fail(ctx, 400, "Sign-in expired", "This sign-in page is no longer valid. Go back to the application and sign in again."),

    /** The sign-in is over (a login or link already made with it) or the state is not this browser's. */
    consumeFailed(ctx: Context, reason: ConsumeFailure, uid?: string): void {
      switch (reason) {
        case "used":
          return fail(ctx, 400, "Sign-in link already used", "This sign-in response was already used. Go back to the application and sign in again.");
        case "expired":
          return fail(ctx, 400, "Sign-in expired", "The sign-in at the provider took too long. Start again.", uid);
        case "unknown":
        case "mismatch":
          return stateMismatch(ctx);
      }
    },

    /** An enabled provider this server can drive, or an error page (and undefined). */
    async usableProvider(ctx: Context, slug: string, backUid: string): Promise<UpstreamProvider | undefined> {
      const found = await findUsableProvider({ sql, encryptionKey, logger }, slug);
      if (found.ok) return found.provider;
      fail(ctx, found.problem.status, found.problem.title, found.problem.message, backUid);
      return undefined;
    },

    async upstreamFailed(ctx: Context, p: UpstreamProvider, e: UpstreamError, uid: string): Promise<void> {
      deps.events?.login(`upstream_${p.providerType}`, "failed");
      await loginFailed(ctx, p, "upstream_error", { upstream: e.kind });
      logger.warn({ provider: p.slug, kind: e.kind, oauthError: e.oauthError, err: e.message }, "upstream sign-in failed");
      const problem = upstreamProblem(p, e);
      fail(ctx, problem.status, problem.title, problem.message, uid);
    },
  };
}
