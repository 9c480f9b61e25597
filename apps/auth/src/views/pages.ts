import { html, safeUrl, type SafeHtml } from "./html.js";
import { layout } from "./layout.js";
import { describeScope, errorMessage, noticeMessage, VERIFY_EMAIL_REASONS, type ApiScopeText } from "./messages.js";

// Server-rendered pages of the auth server. Each works without JavaScript, every form posts a
// hidden csrf_token, and every value is escaped by html`…`. Form field names, which handlers
// read: email (login), code (code page), decision=allow|deny (consent), logout=yes (logout).

/** Common to every page: the brand, and the response's CSP nonce for the stylesheet. */
interface PageBase {
  brand: string;
  nonce?: string;
}

function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf_token" value="${token}">`;
}

function hiddenInputs(fields: Record<string, string> | undefined): SafeHtml {
  return html`${Object.entries(fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}`;
}

function alert(kind: "error" | "info", message: string | undefined): SafeHtml {
  return html`${message === undefined ? "" : html`<div class="alert ${kind}" role="${kind === "error" ? "alert" : "status"}">${message}</div>`}`;
}

export interface LoginProviderLink {
  id: string;
  label: string;
  href: string;
}

export function loginPage(p: PageBase & {
  clientName?: string;
  error?: string;
  email?: string;
  providers: LoginProviderLink[];
  csrfToken: string;
  action: string;
}): SafeHtml {
  const body = html`<h1>Sign in</h1>
${p.clientName ? html`<p class="muted">to continue to <strong>${p.clientName}</strong></p>` : ""}
${alert("error", errorMessage(p.error))}
<form method="post" action="${safeUrl(p.action)}">
${csrfField(p.csrfToken)}
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="email" inputmode="email" maxlength="255" required autofocus value="${p.email ?? ""}">
<button type="submit">Email me a sign-in code</button>
</form>
${
  p.providers.length === 0
    ? ""
    : html`<div class="divider">or</div>
<ul class="providers">
${p.providers.map((pr) => html`<li><a class="button secondary" data-provider="${pr.id}" href="${safeUrl(pr.href)}">${pr.label}</a></li>`)}
</ul>`
}`;
  return layout({ brand: p.brand, title: "Sign in", body, nonce: p.nonce });
}

export function codePage(p: PageBase & {
  maskedEmail: string;
  error?: string;
  notice?: string;
  csrfToken: string;
  action: string;
  resendAction: string;
  /** Link back to the email form, to use another address. */
  changeEmailHref?: string;
  expiresMinutes?: number;
}): SafeHtml {
  const minutes = p.expiresMinutes ?? 5;
  const body = html`<h1>Check your email</h1>
<p>If <strong>${p.maskedEmail}</strong> belongs to an account, we sent it an 8-digit code. The code expires in ${minutes} minute${minutes === 1 ? "" : "s"}.</p>
${alert("error", errorMessage(p.error))}
${alert("info", noticeMessage(p.notice))}
<form method="post" action="${safeUrl(p.action)}">
${csrfField(p.csrfToken)}
<label for="code">Sign-in code</label>
<input id="code" class="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{8,9}" maxlength="9" required autofocus>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${safeUrl(p.resendAction)}" class="actions">
${csrfField(p.csrfToken)}
<button type="submit" class="link">Send a new code</button>
</form>
${p.changeEmailHref ? html`<p class="muted"><a href="${safeUrl(p.changeEmailHref)}">Use a different email address</a></p>` : ""}`;
  return layout({ brand: p.brand, title: "Enter your code", body, nonce: p.nonce });
}

export interface ConsentScope {
  name: string;
  /** Defaults to the standard wording for the scope (describeScope). */
  description?: string;
}

/** API scopes grouped under their entity's heading, in first-seen order. */
function groupApiScopes(scopes: readonly ApiScopeText[]): Array<[heading: string, scopes: ApiScopeText[]]> {
  const groups = new Map<string, ApiScopeText[]>();
  for (const s of scopes) groups.set(s.heading, [...(groups.get(s.heading) ?? []), s]);
  return [...groups];
}

export function consentPage(p: PageBase & {
  clientName: string;
  scopes: ConsentScope[];
  /** The API scopes requested (describeApiScope); the token carries only those the user also holds. */
  apiScopes?: ApiScopeText[];
  csrfToken: string;
  action: string;
  hiddenFields?: Record<string, string>;
}): SafeHtml {
  // An empty request still means "know who you are".
  const scopes = p.scopes.length > 0 ? p.scopes : [{ name: "openid" }];
  const apiScopes = p.apiScopes ?? [];
  const dangerous = apiScopes.some((s) => s.dangerous);
  const body = html`<h1>Authorize ${p.clientName}</h1>
<p><strong>${p.clientName}</strong> would like to:</p>
<ul class="scopes">
${scopes.map((s) => html`<li data-scope="${s.name}">${s.description || describeScope(s.name)}</li>`)}
</ul>
${
  apiScopes.length === 0
    ? html`<p class="muted">It will not be able to use ${p.brand} on your behalf.</p>`
    : html`<p>and use ${p.brand} on your behalf to:</p>
${dangerous ? html`<div class="alert error" role="alert">Some of these permissions let the application change who can access what. Allow them only if you trust it.</div>` : ""}
${groupApiScopes(apiScopes).map(
  ([heading, group]) => html`<p class="muted"><strong>${heading}</strong></p>
<ul class="scopes">
${group.map((s) => html`<li data-scope="${s.scope}"${s.dangerous ? html` data-dangerous="true"` : ""}>${s.dangerous ? html`<strong>Sensitive:</strong> ` : ""}${s.text}</li>`)}
</ul>`,
)}
<p class="muted">Only what your own account is allowed to do: the application never gets more than you have.</p>`
}
<form method="post" action="${safeUrl(p.action)}">
${csrfField(p.csrfToken)}
${hiddenInputs(p.hiddenFields)}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`;
  return layout({ brand: p.brand, title: `Authorize ${p.clientName}`, body, nonce: p.nonce });
}

export function pendingActivationPage(p: PageBase & {
  email: string;
  csrfToken: string;
  resendAction: string;
  logoutAction: string;
  /** Hides the resend form once the address is verified. */
  emailVerified?: boolean;
  notice?: string;
  error?: string;
}): SafeHtml {
  const body = html`<h1>Your account is pending activation</h1>
<p>You are signed in as <strong>${p.email}</strong>, but the account has not been activated yet. An administrator needs to activate it before you can continue.</p>
${alert("error", errorMessage(p.error))}
${alert("info", noticeMessage(p.notice))}
${
  p.emailVerified
    ? ""
    : html`<form method="post" action="${safeUrl(p.resendAction)}">
${csrfField(p.csrfToken)}
<button type="submit" class="secondary">Resend verification email</button>
</form>`
}
<form method="post" action="${safeUrl(p.logoutAction)}">
${csrfField(p.csrfToken)}
<button type="submit" class="link">Sign out</button>
</form>`;
  return layout({ brand: p.brand, title: "Pending activation", body, nonce: p.nonce });
}

export function verifyEmailResultPage(p: PageBase & { ok: boolean; reason?: "missing" | "invalid" | "expired_or_used" }): SafeHtml {
  const body = p.ok
    ? html`<h1>Email verified</h1>
<p>Your email address has been verified. You can close this page.</p>`
    : html`<h1>Email not verified</h1>
${alert("error", VERIFY_EMAIL_REASONS[p.reason ?? "invalid"] ?? VERIFY_EMAIL_REASONS.invalid)}`;
  return layout({ brand: p.brand, title: p.ok ? "Email verified" : "Email not verified", body, nonce: p.nonce });
}

export function logoutConfirmPage(p: PageBase & {
  csrfToken: string;
  action: string;
  clientName?: string;
  /** Inputs the logout endpoint needs back (e.g. oidc-provider's xsrf). */
  hiddenFields?: Record<string, string>;
}): SafeHtml {
  const body = html`<h1>Sign out?</h1>
<p>Do you want to sign out of ${p.brand}${p.clientName ? html` and <strong>${p.clientName}</strong>` : ""}?</p>
<form method="post" action="${safeUrl(p.action)}">
${csrfField(p.csrfToken)}
${hiddenInputs(p.hiddenFields)}
<button type="submit" name="logout" value="yes" autofocus>Yes, sign out</button>
<button type="submit" class="secondary">No, stay signed in</button>
</form>`;
  return layout({ brand: p.brand, title: "Sign out", body, nonce: p.nonce });
}

export function loggedOutPage(p: PageBase): SafeHtml {
  const body = html`<h1>You have signed out</h1>
<p>You can close this window.</p>`;
  return layout({ brand: p.brand, title: "Signed out", body, nonce: p.nonce });
}

export function errorPage(p: PageBase & { title: string; message: string; requestId?: string }): SafeHtml {
  const body = html`<h1>${p.title}</h1>
<p>${p.message}</p>
${p.requestId ? html`<p class="request-id">Request ID: ${p.requestId}</p>` : ""}`;
  return layout({ brand: p.brand, title: p.title, body, nonce: p.nonce });
}

/** A form whose CSRF token does not verify (a stale page, another tab's token, a forged post). */
export function formExpiredPage(p: PageBase): SafeHtml {
  return errorPage({ ...p, title: "Form expired", message: "The form could not be verified. Go back, reload the page and try again." });
}

/**
 * The database or the server's capacity is unavailable for a moment (HTTP 503 with Retry-After):
 * nothing the user did was wrong and nothing is lost, so the page says to wait and try again,
 * never "error". `retryHref` (the same page, for GETs) gives a one-click retry.
 */
export function unavailablePage(p: PageBase & { retryHref?: string }): SafeHtml {
  const body = html`<h1>Temporarily unavailable</h1>
<p>Sign-in is temporarily unavailable. Nothing is wrong with your account; please wait a moment and try again.</p>
${p.retryHref === undefined ? html`<p class="muted">Go back and submit the form again in a few seconds.</p>` : html`<a class="button" href="${safeUrl(p.retryHref)}">Try again</a>`}`;
  return layout({ brand: p.brand, title: "Temporarily unavailable", body, nonce: p.nonce });
}
