import type { Context } from "koa";
import type { Interaction } from "oidc-provider";
import { maskEmail } from "../login-codes/index.js";
import { findUserByPublicId } from "../provider/accounts.js";
import { loginProviders } from "../social/index.js";
import { codePage, loginPage, pendingActivationPage } from "../views/index.js";
import { pageNonce, sendPage } from "../views/send-page.js";
import type { InteractionDeps } from "./deps.js";
import { stepCsrfToken } from "./step-middleware.js";

/** The URLs of one interaction's steps (where its forms post and its links lead). */
export function stepPaths(uid: string) {
  return {
    self: `/interaction/${uid}`,
    login: `/interaction/${uid}/login`,
    code: `/interaction/${uid}/code`,
    resendCode: `/interaction/${uid}/resend-code`,
    changeEmail: `/interaction/${uid}/restart`,
    resendVerification: `/interaction/${uid}/resend-verification`,
    abort: `/interaction/${uid}/abort`,
    consent: `/interaction/${uid}/consent`,
  };
}

/** 303 to the interaction's own page, which shows whichever step it is at now. */
export function backToStep(ctx: Context, uid: string): void {
  ctx.status = 303;
  ctx.redirect(stepPaths(uid).self);
}

export type StepPages = ReturnType<typeof stepPages>;

/** The login steps' pages (email, code, pending activation), each with its forms' CSRF token. */
export function stepPages(deps: Pick<InteractionDeps, "provider" | "sql" | "brand" | "csrfSecret">) {
  const { brand } = deps;
  const csrf = (uid: string) => stepCsrfToken(deps.csrfSecret, uid);

  async function clientName(interaction: Interaction): Promise<string | undefined> {
    const client = await deps.provider().Client.find(String(interaction.params["client_id"] ?? ""));
    return client?.clientName ?? undefined;
  }

  return {
    async login(ctx: Context, interaction: Interaction, extra: { error?: string; email?: string } = {}, status = 200): Promise<void> {
      const p = stepPaths(interaction.uid);
      const name = await clientName(interaction);
      sendPage(
        ctx,
        loginPage({ brand, ...pageNonce(ctx), ...(name ? { clientName: name } : {}), ...extra, providers: await loginProviders(deps.sql, interaction.uid), csrfToken: csrf(interaction.uid), action: p.login }),
        status,
      );
    },

    code(ctx: Context, interaction: Interaction, email: string, message: { error?: string; notice?: string } = {}, status = 200): void {
      const p = stepPaths(interaction.uid);
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
    },

    async pending(ctx: Context, interaction: Interaction, userPublicId: string, notice?: string): Promise<void> {
      const p = stepPaths(interaction.uid);
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
    },
  };
}
