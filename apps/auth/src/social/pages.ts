import { errorPage, html, layout, safeUrl, type SafeHtml } from "../views/index.js";

/**
 * The error page of the social sign-in: the shared errorPage, plus a way back to the sign-in
 * page of the interaction when there still is one (cancelled upstream, provider refused).
 */
export function socialErrorPage(p: { brand: string; nonce?: string; title: string; message: string; backHref?: string }): SafeHtml {
  const { backHref, ...base } = p;
  if (backHref === undefined) return errorPage(base);
  const body = html`<h1>${p.title}</h1>
<p>${p.message}</p>
<p><a class="button secondary" data-back="login" href="${safeUrl(backHref)}">Back to sign-in</a></p>`;
  return layout({ brand: p.brand, title: p.title, body, ...(p.nonce === undefined ? {} : { nonce: p.nonce }) });
}

/**
 * The social callback found an existing account with the upstream's address: nothing was linked
 * or signed in; the way on is an email-code sign-in to that account, which then confirms the link.
 */
export function linkOfferPage(p: { brand: string; nonce?: string; providerName: string; confirmHref: string; backHref: string }): SafeHtml {
  const title = "An account with this address exists";
  const body = html`<h1>${title}</h1>
<p>An account with the email address of your ${p.providerName} account already exists here. ${p.providerName} can be used to sign in to it only after the account has proven it is yours.</p>
<p>Sign in with your email code to link ${p.providerName}; you will be asked to confirm the link.</p>
<p><a class="button" data-link-offer="confirm" href="${safeUrl(p.confirmHref)}">Sign in with your email code to link ${p.providerName}</a></p>
<p><a class="button secondary" data-back="login" href="${safeUrl(p.backHref)}">Back to sign-in</a></p>`;
  return layout({ brand: p.brand, title, body, ...(p.nonce === undefined ? {} : { nonce: p.nonce }) });
}
