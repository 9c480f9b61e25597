import Router from "@koa/router";
import type { Context } from "koa";
import type { SecurityAudit } from "../audit/index.js";
import { readForm } from "../security/index.js";
import { html, layout, safeUrl, type SafeHtml } from "../views/index.js";
import { CONFIRM_EMAIL_CHANGE_PATH, type EmailChangeFailure, type EmailChanges } from "./email-change.js";

export interface EmailChangeRouteDeps {
  emailChanges: EmailChanges;
  brand: string;
  formMaxBytes: number;
  /** Confirmed changes, in the audit log. */
  audit?: SecurityAudit;
}

const REASONS: Record<EmailChangeFailure, string> = {
  missing: "The confirmation link is incomplete. Open the link from the email again.",
  invalid: "This confirmation link is not valid.",
  expired_or_used:
    "This confirmation link has expired, has already been used, or was replaced by a newer change. Ask your administrator to request the change again.",
  superseded: "This confirmation link belongs to a change that is no longer pending. Nothing was changed.",
  email_taken: "This email address now belongs to another account, so the change was not made. Ask your administrator.",
  outgrown: "This account was given more permissions after the change was requested, so the change was not made. Ask an administrator to request it again.",
};

/**
 * The email-change confirmation link. GET only shows a button and POST confirms, so a mail
 * scanner or link preview that fetches the link cannot make the change without a person. The
 * form needs no CSRF token: the link's own token is the secret, and only whoever received it
 * can post it.
 */
export function emailChangeRoutes(deps: EmailChangeRouteDeps): Router {
  const { emailChanges, brand } = deps;
  const router = new Router();
  const page = (ctx: Context, title: string, body: SafeHtml, status: number) => {
    const nonce: unknown = ctx.state["cspNonce"];
    ctx.status = status;
    ctx.type = "html";
    ctx.set("cache-control", "no-store");
    ctx.body = String(layout({ brand, title, body, ...(typeof nonce === "string" ? { nonce } : {}) }));
  };
  const failed = (ctx: Context, reason: EmailChangeFailure) =>
    page(ctx, "Email not changed", html`<h1>Email not changed</h1>
<div class="alert error" role="alert">${REASONS[reason]}</div>`, 400);

  router.get(CONFIRM_EMAIL_CHANGE_PATH, async (ctx) => {
    const token = typeof ctx.query["token"] === "string" ? ctx.query["token"] : undefined;
    const live = await emailChanges.peek(token);
    if (!live.ok) return failed(ctx, live.reason);
    page(
      ctx,
      "Confirm new email address",
      html`<h1>Confirm new email address</h1>
<p>Make <strong>${live.email}</strong> the email address of your ${brand} account? You will sign in with it from then on.</p>
<form method="post" action="${safeUrl(CONFIRM_EMAIL_CHANGE_PATH)}">
<input type="hidden" name="token" value="${token ?? ""}">
<button type="submit">Confirm new email address</button>
</form>`,
      200,
    );
  });

  router.post(CONFIRM_EMAIL_CHANGE_PATH, async (ctx) => {
    const form = await readForm(ctx, deps.formMaxBytes);
    const result = await emailChanges.confirm(form.get("token"));
    if (!result.ok) return failed(ctx, result.reason);
    await deps.audit?.record(ctx, {
      action: "auth.email_change.confirmed",
      actorType: "user",
      actorId: result.userPublicId,
      targetType: "user",
      targetId: result.userPublicId,
      tags: ["email_changed"],
    });
    page(
      ctx,
      "Email changed",
      html`<h1>Email changed</h1>
<p>Your account now uses <strong>${result.email}</strong>. Sign in with this address from now on. You can close this page.</p>`,
      200,
    );
  });

  return router;
}
