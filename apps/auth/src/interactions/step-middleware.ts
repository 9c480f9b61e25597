import type { Router, RouterMiddleware } from "@koa/router";
import type { Interaction } from "oidc-provider";
import { issueCsrfToken, readForm, verifyCsrfToken } from "../security/index.js";
import { errorPage, formExpiredPage } from "../views/index.js";
import { pageNonce, sendPage } from "../views/send-page.js";
import { browserInteraction } from "./browser-interaction.js";
import type { InteractionDeps } from "./deps.js";

/** Every route of a sign-in step lives below this path (the interaction cookie's path). */
export const STEP_PATH = "/interaction/:uid";

/**
 * What the step middleware leaves in `ctx.state` for the step's handler. A type, not an
 * interface, so that it stays assignable to Koa's open state record (pageNonce reads that).
 */
export type InteractionStep = {
  interaction: Interaction;
  /** The posted form, its CSRF token verified; empty on a GET. */
  form: URLSearchParams;
};

/** The router of the sign-in steps: interactionStep runs before each of its handlers. */
export type StepRouter = Router<InteractionStep>;

const csrfPurpose = (uid: string) => `interaction:${uid}`;

/** The CSRF token of an interaction's forms (bound to the interaction; checked by interactionStep). */
export function stepCsrfToken(csrfSecret: Buffer, uid: string): string {
  return issueCsrfToken(csrfSecret, csrfPurpose(uid));
}

/**
 * Runs before every step's handler: the interaction must be this browser's and the one in the
 * URL (else 400 "Sign-in expired"), and a POST must carry its CSRF token (else 403 "Form
 * expired"), checked in that order. A new POST step cannot forget the check.
 */
export function interactionStep(deps: Pick<InteractionDeps, "provider" | "brand" | "csrfSecret" | "formMaxBytes">): RouterMiddleware<InteractionStep> {
  const { brand } = deps;
  return async (ctx, next) => {
    const interaction = await browserInteraction(deps.provider(), ctx);
    if (!interaction) {
      sendPage(
        ctx,
        errorPage({ brand, ...pageNonce(ctx), title: "Sign-in expired", message: "This sign-in page is no longer valid. Go back to the application and sign in again." }),
        400,
      );
      return;
    }
    let form = new URLSearchParams();
    if (ctx.method === "POST") {
      form = await readForm(ctx, deps.formMaxBytes);
      if (!verifyCsrfToken(deps.csrfSecret, csrfPurpose(interaction.uid), form.get("csrf_token"))) {
        sendPage(ctx, formExpiredPage({ brand, ...pageNonce(ctx) }), 403);
        return;
      }
    }
    ctx.state.interaction = interaction;
    ctx.state.form = form;
    await next();
  };
}
