import { randomBytes } from "node:crypto";
import type { Middleware } from "koa";

export interface SecurityHeadersOptions {
  /** Adds Strict-Transport-Security (browsers honour it over HTTPS only). */
  production?: boolean;
  /**
   * form-action sources for every response; default: no form-action directive (see below).
   * A handler can set `ctx.state.cspFormAction` (string[]) for its own response instead.
   */
  formAction?: string[];
}

/**
 * Security headers for every response of the auth server, and a fresh CSP nonce per request on
 * `ctx.state.cspNonce` (pages put it on their <style>).
 *
 * - `default-src 'none'`: nothing loads unless listed. Pages use one nonce'd inline stylesheet
 *   and no script; `img-src 'self' data:` for icons.
 * - `script-src 'nonce-…'`: our pages have no script, but oidc-provider's form_post response
 *   page submits itself with an inline script and adds that script's hash to an existing
 *   script-src directive (lib/helpers/script_src_sha.js); without a script-src it would be
 *   blocked by default-src and leave the user on a blank page.
 * - `form-action` is left out by default on purpose. Chrome applies it to every redirect that
 *   follows a form submission; our forms post to the auth server, which then redirects
 *   (303) to the client's redirect_uri, and the form_post response mode posts straight to it. A
 *   `form-action 'self'` would therefore break every login in Chrome, and listing clients'
 *   origins needs the client at hand (the `ctx.state.cspFormAction` hook allows it per
 *   response). What form-action would protect against, an injected form, is prevented by
 *   auto-escaping in the views and by `default-src 'none'`.
 * - `frame-ancestors 'none'` (and X-Frame-Options) against clickjacking of the consent page;
 *   `base-uri 'none'`; nosniff; no Referer (URLs carry interaction ids and codes).
 */
export function securityHeaders(opts: SecurityHeadersOptions = {}): Middleware {
  return async (ctx, next) => {
    const nonce = freshNonce();
    ctx.state["cspNonce"] = nonce;
    for (const [name, value] of securityHeaderList(nonce, opts)) ctx.set(name, value);
    await next();
    const perResponse: unknown = ctx.state["cspFormAction"];
    if (Array.isArray(perResponse) && !ctx.headerSent) {
      ctx.set("Content-Security-Policy", contentSecurityPolicy(nonce, perResponse.map(String)));
    }
  };
}

/** The headers above for a response with this nonce (also written by the in-flight gate, before Koa). */
export function securityHeaderList(nonce: string, opts: SecurityHeadersOptions = {}): [string, string][] {
  const list: [string, string][] = [
    ["Content-Security-Policy", contentSecurityPolicy(nonce, opts.formAction)],
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", "no-referrer"],
    ["X-Frame-Options", "DENY"],
  ];
  if (opts.production) list.push(["Strict-Transport-Security", "max-age=31536000; includeSubDomains"]);
  return list;
}

// randomBytes(16) on every request was 9 % of the CPU of a request refused at the in-flight limit
// (one synchronous call into OpenSSL each): entropy is drawn 4 KiB at a time and each nonce takes
// its own 16 bytes of it, never reused. Still a CSPRNG's output, as Node's randomUUID pools it.
const NONCE_BYTES = 16;
const POOL_BYTES = NONCE_BYTES * 256;
let pool = Buffer.alloc(0);
let offset = 0;

/** A CSP nonce: 16 random bytes, base64. */
export function freshNonce(): string {
  if (offset + NONCE_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const nonce = pool.toString("base64", offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  return nonce;
}

export function contentSecurityPolicy(nonce: string, formAction?: string[]): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    ...(formAction && formAction.length > 0 ? [`form-action ${formAction.join(" ")}`] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}
