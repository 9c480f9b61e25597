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
