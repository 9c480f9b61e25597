import { createHash, randomBytes } from "node:crypto";
import type { Context } from "koa";
import { safeEqual, sha256Hex } from "@altalune/core";
import type Provider from "oidc-provider";
import type { Session } from "oidc-provider";
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID } from "../provider/client-store.js";
import { ROUTES } from "../provider/configuration.js";

/**
 * The account pages are signed in through the provider's own login session (the `_session`
 * cookie, signed with the provider's cookie keys): whoever signed in to any application in this
 * browser can open them. Without a session they start an authorization request for the built-in
 * account client, so the user goes through the same login pages (email code, social login,
 * pending activation) as for any application, and comes back to /account/callback.
 */

export interface SignedIn {
  session: Session;
  accountId: string;
  /** What the account forms' CSRF tokens are bound to (hash of the session id). */
  csrfBinding: string;
}

/** The browser's live login session, or undefined (none, expired, destroyed, bad signature). */
export async function signedIn(provider: Provider, ctx: Context): Promise<SignedIn | undefined> {
  // Session.get reads the signed cookie through the provider's own cookie keys; an unknown or
  // expired id yields an empty session (no accountId).
  const session = await provider.Session.get(ctx as never);
  if (!session.accountId) return undefined;
  return { session, accountId: session.accountId, csrfBinding: `account:${sha256Hex(session.jti)}` };
}

/** Names of the provider's session cookies (and their signatures), cleared on logout. */
export function sessionCookieNames(provider: Provider): string[] {
  const name = provider.cookieName("session");
  return [name, `${name}.sig`, `${name}.legacy`, `${name}.legacy.sig`];
}

/**
 * Ends the login session like oidc-provider's own logout does: the grants that live only as long
 * as the session (no offline_access) are revoked with their tokens, the session is destroyed,
 * its cookies cleared. Used by the account pages and the BFF's logout.
 */
export async function endLoginSession(provider: Provider, ctx: Context, me: SignedIn, secure: boolean): Promise<void> {
  for (const { grantId, persistsLogout } of Object.values(me.session.authorizations ?? {})) {
    if (!grantId || persistsLogout) continue;
    // One model after the other: the pg adapter deletes every row of the grant on the first.
    for (const model of [provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode]) await model.adapter.revokeByGrantId(grantId);
    await provider.Grant.adapter.destroy(grantId);
  }
  await me.session.destroy();
  for (const name of sessionCookieNames(provider)) {
    ctx.cookies.set(name, "", { path: "/", httpOnly: true, sameSite: "lax", secure, signed: false, overwrite: true, maxAge: 0 });
  }
}

/** The short-lived cookie carrying one account sign-in (state, PKCE verifier, where to return). */
export const LOGIN_COOKIE = "altalune_account_login";
const LOGIN_COOKIE_MAX_AGE_MS = 10 * 60_000;

/** Where a finished sign-in may return: a fixed list, so the cookie cannot redirect anywhere else. */
export const RETURN_PATHS = { account: "/account", edit: "/account/edit", link: "/account/link/confirm" } as const;
export type ReturnTo = keyof typeof RETURN_PATHS;

interface PendingLogin {
  state: string;
  verifier: string;
  returnTo: ReturnTo;
}

const s256 = (verifier: string): string => createHash("sha256").update(verifier).digest("base64url");

function cookieOptions(secure: boolean) {
  return { path: "/account", httpOnly: true, sameSite: "lax" as const, secure, signed: false, overwrite: true };
}

/** Starts a sign-in: remembers state and verifier in this browser, sends it to the authorization endpoint. */
export function startLogin(ctx: Context, opts: { issuer: string; secure: boolean; returnTo: ReturnTo }): void {
  const state = randomBytes(24).toString("base64url");
  const verifier = randomBytes(32).toString("base64url");
  ctx.cookies.set(LOGIN_COOKIE, `${state}.${verifier}.${opts.returnTo}`, { ...cookieOptions(opts.secure), maxAge: LOGIN_COOKIE_MAX_AGE_MS });
  const query = new URLSearchParams({
    client_id: ACCOUNT_CLIENT_ID,
    response_type: "code",
    redirect_uri: callbackUrl(opts.issuer),
    scope: "openid",
    state,
    code_challenge: s256(verifier),
    code_challenge_method: "S256",
  });
  ctx.set("cache-control", "no-store");
  ctx.redirect(`${opts.issuer.replace(/\/+$/, "")}${ROUTES.authorization}?${query.toString()}`);
}

export const callbackUrl = (issuer: string): string => `${issuer.replace(/\/+$/, "")}${ACCOUNT_CALLBACK_PATH}`;

/** The sign-in this browser started, read once: the cookie is cleared whatever happens next. */
export function takePendingLogin(ctx: Context, secure: boolean): PendingLogin | undefined {
  const raw = ctx.cookies.get(LOGIN_COOKIE);
  if (raw === undefined) return undefined;
  ctx.cookies.set(LOGIN_COOKIE, "", { ...cookieOptions(secure), maxAge: 0 });
  const [state = "", verifier = "", returnTo = ""] = raw.split(".");
  if (!/^[A-Za-z0-9_-]{32}$/.test(state) || !/^[A-Za-z0-9_-]{43}$/.test(verifier) || !Object.hasOwn(RETURN_PATHS, returnTo)) return undefined;
  return { state, verifier, returnTo: returnTo as ReturnTo };
}

export type CallbackOutcome = { ok: true; returnTo: ReturnTo } | { ok: false; reason: "no_pending_login" | "state_mismatch" | "upstream_error" | "no_session" | "invalid_code" };

/**
 * Completes the account sign-in at the callback. The session cookie (set by the provider when the
 * login finished) is what signs the pages in; the callback checks that this browser started the
 * request (state), then consumes the authorization code after checking it as the token endpoint
 * would (client, redirect URI, PKCE, same account and session), so nothing usable is left behind
 * and no token is minted that nobody would use.
 */
export async function finishLogin(provider: Provider, ctx: Context, opts: { issuer: string; secure: boolean }): Promise<CallbackOutcome> {
  const pending = takePendingLogin(ctx, opts.secure);
  if (!pending) return { ok: false, reason: "no_pending_login" };
  const state = typeof ctx.query["state"] === "string" ? ctx.query["state"] : "";
  if (!safeEqual(state, pending.state)) return { ok: false, reason: "state_mismatch" };
  if (ctx.query["error"] !== undefined) return { ok: false, reason: "upstream_error" };
  const iss = ctx.query["iss"];
  if (iss !== undefined && iss !== opts.issuer) return { ok: false, reason: "invalid_code" };
  const codeValue = typeof ctx.query["code"] === "string" ? ctx.query["code"] : "";
  if (codeValue === "") return { ok: false, reason: "invalid_code" };
  const code = await provider.AuthorizationCode.find(codeValue).catch(() => undefined);
  if (!code) return { ok: false, reason: "invalid_code" };
  // Single use whatever the checks say, as the token endpoint treats a presented code.
  await code.destroy();
  const current = await signedIn(provider, ctx);
  if (!current) return { ok: false, reason: "no_session" };
  const valid =
    (code as { consumed?: unknown }).consumed === undefined &&
    code.clientId === ACCOUNT_CLIENT_ID &&
    code.redirectUri === callbackUrl(opts.issuer) &&
    code.codeChallengeMethod === "S256" &&
    typeof code.codeChallenge === "string" &&
    safeEqual(code.codeChallenge, s256(pending.verifier)) &&
    code.accountId === current.accountId &&
    (code.sessionUid === undefined || code.sessionUid === current.session.uid);
  return valid ? { ok: true, returnTo: pending.returnTo } : { ok: false, reason: "invalid_code" };
}
