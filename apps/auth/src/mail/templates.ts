import { html, safeUrl } from "../views/html.js";

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

// Mail clients strip <style> blocks and ignore external CSS, so the little styling there is
// stays inline. Subjects never carry the code or link: subjects end up in notification previews,
// server logs and mail-list views.

function mailDocument(brand: string, body: ReturnType<typeof html>): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${brand}</title></head>
<body style="margin:0;padding:24px;background:#f5f6f8;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2328">
<div style="max-width:480px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px">
<p style="margin:0 0 24px;font-weight:600;font-size:18px">${brand}</p>
${body}
</div>
</body>
</html>
`.value;
}

export function loginCodeMail(input: { brand: string; name: string; code: string; expiresMinutes: number }): MailContent {
  const { brand, name, code, expiresMinutes } = input;
  const minutes = `${expiresMinutes} minute${expiresMinutes === 1 ? "" : "s"}`;
  return {
    subject: `Your ${brand} login code`,
    text: [
      `Hello ${name},`,
      "",
      `Your ${brand} login code is:`,
      "",
      `    ${code}`,
      "",
      `It expires in ${minutes} and can be used once.`,
      "If you did not try to sign in, you can ignore this email: nobody can sign in without the code.",
      "",
    ].join("\n"),
    html: mailDocument(
      brand,
      html`<p>Hello ${name},</p>
<p>Your ${brand} login code is:</p>
<p style="font-size:32px;letter-spacing:6px;font-weight:700;font-family:ui-monospace,Menlo,Consolas,monospace;margin:16px 0">${code}</p>
<p>It expires in ${minutes} and can be used once.</p>
<p style="color:#59636e;font-size:13px">If you did not try to sign in, you can ignore this email: nobody can sign in without the code.</p>`,
    ),
  };
}

export function verificationMail(input: { brand: string; name: string; link: string; expiresHours: number }): MailContent {
  const { brand, name, link, expiresHours } = input;
  const hours = `${expiresHours} hour${expiresHours === 1 ? "" : "s"}`;
  return {
    subject: `Verify your email address for ${brand}`,
    text: [
      `Hello ${name},`,
      "",
      `Please confirm that this is your email address by opening this link:`,
      "",
      link,
      "",
      `The link expires in ${hours} and can be used once.`,
      "If you did not create an account, you can ignore this email.",
      "",
    ].join("\n"),
    html: mailDocument(
      brand,
      html`<p>Hello ${name},</p>
<p>Please confirm that this is your email address.</p>
<p style="margin:24px 0"><a href="${safeUrl(link)}" style="background:#1f6feb;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;display:inline-block">Verify email address</a></p>
<p style="font-size:13px">Or open this link: <a href="${safeUrl(link)}">${link}</a></p>
<p>The link expires in ${hours} and can be used once.</p>
<p style="color:#59636e;font-size:13px">If you did not create an account, you can ignore this email.</p>`,
    ),
  };
}

/** To the requested new address: the link that makes the change effective. */
export function emailChangeConfirmMail(input: { brand: string; name: string; newEmail: string; link: string; expiresHours: number }): MailContent {
  const { brand, name, newEmail, link, expiresHours } = input;
  const hours = `${expiresHours} hour${expiresHours === 1 ? "" : "s"}`;
  return {
    subject: `Confirm your new email address for ${brand}`,
    text: [
      `Hello ${name},`,
      "",
      `An administrator asked to change the email address of your ${brand} account to ${newEmail}.`,
      "To confirm that this address is yours, open this link and press the button on the page:",
      "",
      link,
      "",
      `The link expires in ${hours} and can be used once. Until it is used, your account keeps its current address.`,
      "If you do not expect this, ignore this email: nothing changes without the link.",
      "",
    ].join("\n"),
    html: mailDocument(
      brand,
      html`<p>Hello ${name},</p>
<p>An administrator asked to change the email address of your ${brand} account to <strong>${newEmail}</strong>. Please confirm that this address is yours.</p>
<p style="margin:24px 0"><a href="${safeUrl(link)}" style="background:#1f6feb;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;display:inline-block">Confirm new email address</a></p>
<p style="font-size:13px">Or open this link: <a href="${safeUrl(link)}">${link}</a></p>
<p>The link expires in ${hours} and can be used once. Until it is used, your account keeps its current address.</p>
<p style="color:#59636e;font-size:13px">If you do not expect this, ignore this email: nothing changes without the link.</p>`,
    ),
  };
}

/** To the current address: a change was requested (no link: this address cannot confirm it). */
export function emailChangeNoticeMail(input: { brand: string; name: string; newEmail: string; expiresHours: number }): MailContent {
  const { brand, name, newEmail, expiresHours } = input;
  const hours = `${expiresHours} hour${expiresHours === 1 ? "" : "s"}`;
  return {
    subject: `Email address change requested for your ${brand} account`,
    text: [
      `Hello ${name},`,
      "",
      `An administrator asked to change the email address of your ${brand} account to ${newEmail}.`,
      `A confirmation link was sent to that address; the change takes effect only if it is opened there within ${hours}.`,
      "Until then you keep signing in with this address.",
      "",
      `If you did not expect this, contact your ${brand} administrator now: they can cancel the change by setting your address back to this one.`,
      "",
    ].join("\n"),
    html: mailDocument(
      brand,
      html`<p>Hello ${name},</p>
<p>An administrator asked to change the email address of your ${brand} account to <strong>${newEmail}</strong>.</p>
<p>A confirmation link was sent to that address; the change takes effect only if it is opened there within ${hours}. Until then you keep signing in with this address.</p>
<p><strong>If you did not expect this, contact your ${brand} administrator now:</strong> they can cancel the change by setting your address back to this one.</p>`,
    ),
  };
}
