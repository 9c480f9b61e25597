import { html, safeUrl, type SafeHtml } from "./html.js";
import { layout } from "./layout.js";
import { describeScope, noticeMessage } from "./messages.js";

// The account pages (/account…): profile with identities and consents, edit profile, and the
// messages of the account sign-in. Same rules as pages.ts: no JavaScript, every form posts a
// hidden csrf_token, every value escaped by html`…`. Field names handlers read: client_id
// (revoke), first_name and last_name (edit).

interface PageBase {
  brand: string;
  nonce?: string;
}

export interface AccountUserView {
  email: string;
  firstName: string;
  lastName: string;
  emailVerified: boolean;
}

export interface AccountIdentityView {
  /** The provider's display name, or its slug when it is no longer configured. */
  provider: string;
  /** The application the user first signed in through with this identity. */
  originApp: string | null;
  lastLoginAt: Date | null;
}

/** An enabled provider the user may link (none of their identities is at it yet). */
export interface AccountLinkableProviderView {
  slug: string;
  displayName: string;
}

export interface AccountConsentView {
  clientId: string;
  clientName: string;
  scopes: string[];
  grantedAt: Date;
}

const ACCOUNT_NOTICES: Record<string, string> = {
  consent_revoked: "Access revoked. The application has to ask you again before it can sign you in.",
  profile_saved: "Your profile has been updated.",
  identity_linked: "Sign-in method linked. You can now sign in with it.",
  identity_already_linked: "This sign-in method was already linked to your account.",
  link_cancelled: "Nothing was linked.",
};

/** Account notices first, then the shared ones (verification mail); unknown codes show nothing. */
function accountNotice(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  return Object.hasOwn(ACCOUNT_NOTICES, code) ? ACCOUNT_NOTICES[code] : noticeMessage(code);
}

/** Notices that report a failure, shown as errors. */
const FAILURE_NOTICES = new Set(["verification_rate_limited", "verification_failed"]);

function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf_token" value="${token}">`;
}

function alert(kind: "error" | "info", message: string | undefined): SafeHtml {
  return html`${message === undefined ? "" : html`<div class="alert ${kind}" role="${kind === "error" ? "alert" : "status"}">${message}</div>`}`;
}

/** A fixed, locale-independent rendering (the page is not localized), with the exact instant for machines. */
function when(date: Date | null): SafeHtml {
  if (date === null) return html`never`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

const displayName = (u: AccountUserView): string => `${u.firstName} ${u.lastName}`.trim();

export function accountPage(p: PageBase & {
  user: AccountUserView;
  identities: AccountIdentityView[];
  consents: AccountConsentView[];
  /** Providers offered as "Link <name>" (posting `provider` to linkAction). */
  linkProviders?: AccountLinkableProviderView[];
  linkAction?: string;
  /** A notice code (verification_sent, consent_revoked, …). */
  notice?: string;
  csrfToken: string;
  editHref: string;
  resendVerificationAction: string;
  revokeConsentAction: string;
  logoutAction: string;
}): SafeHtml {
  const { user } = p;
  const notice = accountNotice(p.notice);
  const failed = p.notice !== undefined && FAILURE_NOTICES.has(p.notice);
  const body = html`<h1>Your account</h1>
${alert(failed ? "error" : "info", notice)}
<section id="profile">
<p><strong data-field="name">${displayName(user) || "No name yet"}</strong><br>
<span data-field="email">${user.email}</span></p>
${
  user.emailVerified
    ? html`<p class="muted" data-field="verification">Email address verified.</p>`
    : html`<div class="alert info" data-field="verification">Your email address is not verified yet.</div>
<form method="post" action="${safeUrl(p.resendVerificationAction)}">
${csrfField(p.csrfToken)}
<button type="submit" class="secondary">Resend verification email</button>
</form>`
}
<p><a class="button secondary" href="${safeUrl(p.editHref)}">Edit profile</a></p>
</section>
<section id="identities">
<h2>Sign-in methods</h2>
${
  p.identities.length === 0
    ? html`<p class="muted">Email sign-in code only.</p>`
    : html`<ul class="scopes">
${p.identities.map(
  (i) => html`<li data-identity="${i.provider}"><strong>${i.provider}</strong>${i.originApp ? html`<br><span class="muted">First used with ${i.originApp}</span>` : ""}<br><span class="muted">Last sign-in: ${when(i.lastLoginAt)}</span></li>`,
)}
</ul>`
}
${
  p.linkProviders === undefined || p.linkProviders.length === 0 || p.linkAction === undefined
    ? ""
    : html`${p.linkProviders.map(
        (l) => html`<form method="post" action="${safeUrl(p.linkAction ?? "")}" data-link="${l.slug}">
${csrfField(p.csrfToken)}
<input type="hidden" name="provider" value="${l.slug}">
<button type="submit" class="secondary">Link ${l.displayName}</button>
</form>`,
      )}`
}
</section>
<section id="consents">
<h2>Applications with access</h2>
${
  p.consents.length === 0
    ? html`<p class="muted">No application has access to your account.</p>`
    : html`<ul class="scopes">
${p.consents.map(
  (c) => html`<li data-client="${c.clientId}"><strong>${c.clientName}</strong>
<br><span class="muted">${c.scopes.map(describeScope).join("; ") || describeScope("openid")}</span>
<br><span class="muted">Allowed: ${when(c.grantedAt)}</span>
<form method="post" action="${safeUrl(p.revokeConsentAction)}">
${csrfField(p.csrfToken)}
<input type="hidden" name="client_id" value="${c.clientId}">
<button type="submit" class="secondary">Revoke access</button>
</form></li>`,
)}
</ul>`
}
</section>
<form method="post" action="${safeUrl(p.logoutAction)}">
${csrfField(p.csrfToken)}
<button type="submit" class="link">Sign out</button>
</form>`;
  return layout({ brand: p.brand, title: "Your account", body, nonce: p.nonce });
}

export function editProfilePage(p: PageBase & {
  email: string;
  firstName: string;
  lastName: string;
  /** Shown as an error above the form. */
  error?: string;
  saved?: boolean;
  csrfToken: string;
  action: string;
  backHref: string;
}): SafeHtml {
  const body = html`<h1>Edit profile</h1>
${alert("error", p.error)}
${alert("info", p.saved ? ACCOUNT_NOTICES["profile_saved"] : undefined)}
<form method="post" action="${safeUrl(p.action)}">
${csrfField(p.csrfToken)}
<label for="email">Email address</label>
<input id="email" type="email" value="${p.email}" readonly disabled>
<label for="first_name">First name</label>
<input id="first_name" name="first_name" type="text" autocomplete="given-name" maxlength="100" value="${p.firstName}">
<label for="last_name">Last name</label>
<input id="last_name" name="last_name" type="text" autocomplete="family-name" maxlength="100" value="${p.lastName}">
<button type="submit">Save</button>
</form>
<p><a class="button secondary" href="${safeUrl(p.backHref)}">Back to your account</a></p>`;
  return layout({ brand: p.brand, title: "Edit profile", body, nonce: p.nonce });
}

/** A message with one way on (a failed account sign-in, a consent that does not exist). */
export function accountMessagePage(p: PageBase & { title: string; message: string; linkHref: string; linkLabel: string }): SafeHtml {
  const body = html`<h1>${p.title}</h1>
<p>${p.message}</p>
<p><a class="button" href="${safeUrl(p.linkHref)}">${p.linkLabel}</a></p>`;
  return layout({ brand: p.brand, title: p.title, body, nonce: p.nonce });
}

/**
 * Confirmation of a link offered at a social sign-in (posting `decision` = link | cancel). Says
 * plainly what linking means: that upstream account will open this account.
 */
export function linkConfirmPage(p: PageBase & { providerName: string; upstreamEmail: string; accountEmail: string; csrfToken: string; action: string }): SafeHtml {
  const body = html`<h1>Link ${p.providerName}?</h1>
<p>You are signed in as <strong>${p.accountEmail}</strong>. Link the ${p.providerName} account <strong>${p.upstreamEmail}</strong> to it?</p>
<p class="muted">Whoever can sign in to that ${p.providerName} account will then be able to sign in to your account here. Link it only if it is yours.</p>
<form method="post" action="${safeUrl(p.action)}">
${csrfField(p.csrfToken)}
<button type="submit" name="decision" value="link">Link ${p.providerName}</button>
<button type="submit" name="decision" value="cancel" class="secondary">Cancel</button>
</form>`;
  return layout({ brand: p.brand, title: `Link ${p.providerName}`, body, nonce: p.nonce });
}
