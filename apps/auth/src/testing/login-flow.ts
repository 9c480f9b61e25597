import * as oidc from "openid-client";
import type { SmtpReceiver } from "../mail/testing.js";
import { Browser, type Page } from "./browser.js";
import type { TestClient } from "./auth-harness.js";

/**
 * A relying party (openid-client, discovery only) and a person at a browser without JavaScript:
 * authorization request → email form → code from the mailbox → consent → callback → tokens.
 */

export async function relyingParty(issuer: string, client: TestClient): Promise<oidc.Configuration> {
  const auth = client.clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(client.clientSecret);
  return oidc.discovery(new URL(issuer), client.clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
}

export interface AuthorizationStart {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationUrl(
  rp: oidc.Configuration,
  client: TestClient,
  params: { scope?: string; prompt?: string; pkce?: boolean } & Record<string, string | boolean | undefined> = {},
): Promise<AuthorizationStart> {
  const { scope = "openid profile email", pkce = true, ...extra } = params;
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const query: Record<string, string> = { redirect_uri: client.redirectUri, scope, state, nonce };
  if (pkce) Object.assign(query, { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" });
  for (const [k, v] of Object.entries(extra)) if (typeof v === "string") query[k] = v;
  return { url: oidc.buildAuthorizationUrl(rp, query), verifier, state, nonce };
}

/** The 8-digit code of the newest login mail to `email`. */
export async function codeFromMail(smtp: SmtpReceiver, email: string): Promise<string> {
  const mail = await smtp.waitFor(email, 10_000);
  const code = /\b(\d{8})\b/.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in mail:\n${mail.text}`);
  return code;
}

export type FlowEnd = Page & { leftTo?: URL };

/** From the authorization URL to the code page (email submitted). */
export async function startLogin(browser: Browser, start: AuthorizationStart, email: string): Promise<FlowEnd> {
  const loginPage = await browser.navigate(start.url.href);
  if (loginPage.leftTo) return loginPage;
  if (!/\/login"/.test(loginPage.body)) throw new Error(`expected the login page, got ${loginPage.status}:\n${loginPage.body}`);
  return browser.submit(loginPage, /\/login$/, { email });
}

export interface LoginResult {
  /** Where the browser was sent back to the client (code or error in the query). */
  callback: URL;
  /** Whether a consent page was answered. */
  consented: boolean;
}

/**
 * Drives the whole login. `decision` answers a consent page if one appears; the browser's
 * session is reused when it already has one (no email asked then).
 */
export async function browserLogin(
  browser: Browser,
  smtp: SmtpReceiver,
  start: AuthorizationStart,
  email: string,
  decision: "allow" | "deny" = "allow",
): Promise<LoginResult> {
  let page: FlowEnd = await browser.navigate(start.url.href);
  if (!page.leftTo && /\/login"/.test(page.body)) {
    page = await browser.submit(page, /\/login$/, { email });
    const code = await codeFromMail(smtp, email);
    page = await browser.submit(page, /\/code$/, { code });
  }
  let consented = false;
  if (!page.leftTo && /\/consent"/.test(page.body)) {
    consented = true;
    page = await browser.submit(page, /\/consent$/, { decision });
  }
  if (!page.leftTo) throw new Error(`login did not return to the client: ${page.status} ${page.url}\n${page.body}`);
  return { callback: page.leftTo, consented };
}

export async function exchange(rp: oidc.Configuration, start: AuthorizationStart, callback: URL) {
  return oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
}
