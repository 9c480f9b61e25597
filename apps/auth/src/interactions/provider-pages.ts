import type { KoaContextWithOIDC } from "oidc-provider";
import { errorPage, loggedOutPage, logoutConfirmPage, unavailablePage } from "../views/index.js";
import { pageNonce } from "../views/send-page.js";

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
