import type { IncomingMessage } from "node:http";
import type { Context } from "koa";

/** Every HTML page of this server: personal or single-use, so never cached. */
export function sendPage(ctx: Context, page: { toString(): string }, status = 200): void {
  ctx.status = status;
  ctx.type = "html";
  ctx.set("cache-control", "no-store");
  ctx.body = String(page);
}

/** A 303 after a form or a sign-in hop: where it leads is as personal as a page, so never cached either. */
export function seeOther(ctx: Context, path: string): void {
  ctx.status = 303;
  ctx.set("cache-control", "no-store");
  ctx.redirect(path);
}

const requestNonces = new WeakMap<IncomingMessage, string>();

/** Keeps the response's CSP nonce where oidc-provider's pages (another Koa context) can find it. */
export function rememberCspNonce(ctx: Context): void {
  const nonce: unknown = ctx.state["cspNonce"];
  if (typeof nonce === "string") requestNonces.set(ctx.req, nonce);
}

/**
 * The CSP nonce of this response, for a page's inline script and style: set by the security
 * headers middleware on our own contexts, found through the request in oidc-provider's.
 */
export function pageNonce(ctx: { req: IncomingMessage; state?: Record<string, unknown> }): { nonce?: string } {
  const own: unknown = ctx.state?.["cspNonce"];
  const nonce = typeof own === "string" ? own : requestNonces.get(ctx.req);
  return nonce === undefined ? {} : { nonce };
}
