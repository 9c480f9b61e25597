import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "@altalune/core";
import type { AuditEventRow } from "@altalune/test-kit";
import { LOGIN_CODE_MAX_ATTEMPTS } from "../login-codes/index.js";
import { keyRetentionSeconds } from "../provider/configuration.js";
import { rotateSigningKey } from "../provider/signing-keys.js";
import { insertProvider, startUpstreamIdp, type UpstreamIdp } from "../social/testing.js";
import { createClient, createUser, freePort, startTestAuth, TEST_ENCRYPTION_KEY, type TestAuth, type TestClient } from "../testing/auth-harness.js";
import { Browser, formsOf, type Page } from "../testing/browser.js";
import { authorizationUrl, codeFromMail, exchange, relyingParty, startLogin } from "../testing/login-flow.js";

// The auth server's security events in altalune_audit_events, from real flows on a real server:
// codes sent, logins failed and succeeded, consent granted and revoked, refresh-token reuse,
// signing-key rotation, an identity linked. No row may hold a code, token, secret or address.

const SLUG = "audit-idp";
let auth: TestAuth;
let idp: UpstreamIdp;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;
/** Every code, token, secret and address of this file: none may be in the table. */
const secrets: string[] = [];

type Row = Omit<AuditEventRow, "project_public_id" | "request_id" | "trace_id" | "changed_fields">;

async function rowsFor(targetOrActor: string): Promise<Row[]> {
  return auth.sql<Row[]>`
    select action, actor_type, actor_public_id, target_type, target_public_id, result, client_address, user_agent, details, tags
    from altalune_audit_events
    where target_public_id = ${targetOrActor} or actor_public_id = ${targetOrActor}
    order by id`;
}

/** Rows the provider's event listener writes after answering: waited for (bounded), not timed. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const value = await read();
    if (done(value) || i === 100) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  const port = await freePort();
  idp = await startUpstreamIdp({ redirectUris: [`http://127.0.0.1:${port}/login/${SLUG}/callback`] });
  auth = await startTestAuth({ port, server: { loginCodeLimits: { perIp: { limit: 1_000, windowSeconds: 900 } } } });
  await insertProvider(auth.sql, TEST_ENCRYPTION_KEY, {
    type: "oidc",
    slug: SLUG,
    displayName: "Audit ID",
    clientId: idp.clientId,
    clientSecret: idp.clientSecret,
    scopes: ["openid", "email", "profile"],
    issuerUrl: idp.issuer,
  });
  app = await createClient(auth.sql, { name: "Audited App", confidential: true });
  rp = await relyingParty(auth.issuer, app);
  secrets.push(idp.clientSecret, app.clientSecret!);
}, 60_000);

afterAll(async () => {
  await auth?.close();
  await idp?.close();
});

const email = (label: string) => {
  const address = `${label}-${++seq}@audit.example.test`;
  secrets.push(address);
  return address;
};

describe("auth-server security events", () => {
  let user: Awaited<ReturnType<typeof createUser>>;
  let browser: Browser;
  let refreshToken: string;

  it("a code sent, a wrong code, the right one, a consent: one row each, naming the user and the client", async () => {
    user = await createUser(auth.sql, { email: email("person") });
    browser = new Browser(auth.issuer);
    const start = await authorizationUrl(rp, app, { scope: "openid profile email offline_access", prompt: "consent" });
    let page: Page & { leftTo?: URL } = await startLogin(browser, start, user.email);
    const code = await codeFromMail(auth.smtp, user.email);
    const wrong = code === "00000000" ? "11111111" : "00000000";
    secrets.push(code);
    page = await browser.submit(page, /\/code$/, { code: wrong });
    expect(page.status).toBe(400);
    page = await browser.submit(page, /\/code$/, { code });
    expect(page.body).toMatch(/\/consent"/);
    page = await browser.submit(page, /\/consent$/, { decision: "allow" });
    if (!page.leftTo) throw new Error(`not back at the client: ${page.status}`);
    const tokens = await exchange(rp, start, page.leftTo);
    refreshToken = tokens.refresh_token!;
    secrets.push(tokens.access_token, refreshToken, tokens.id_token!);

    const rows = await rowsFor(user.publicId);
    expect(rows.map((r) => [r.action, r.actor_type, r.result])).toEqual([
      ["auth.login_code.sent", "anonymous", "ok"],
      ["auth.login.failed", "anonymous", "invalid"],
      ["auth.login.succeeded", "user", "ok"],
      ["auth.consent.granted", "user", "ok"],
    ]);
    expect(rows[1]).toMatchObject({ target_type: "user", target_public_id: user.publicId, details: { method: "email_code", reason: "invalid" }, tags: ["security"] });
    expect(rows[2]).toMatchObject({ actor_public_id: user.publicId, details: { method: "email_code" } });
    expect(rows[3]).toMatchObject({ target_type: "client", target_public_id: app.clientId, details: { client_id: app.clientId } });
    for (const row of rows) {
      expect(row.client_address).toBe("127.0.0.1");
      expect(row.user_agent).toEqual(expect.any(String));
    }
  });

  it("writes a failed login only for a guess that used an attempt: repeated refusals of an anonymous caller add no row", async () => {
    const target = await createUser(auth.sql, { email: email("guessed") });
    const guesser = new Browser(auth.issuer);
    const start = await authorizationUrl(rp, app, { scope: "openid" });
    let page: Page = await startLogin(guesser, start, target.email);
    const code = await codeFromMail(auth.smtp, target.email);
    secrets.push(code);
    const wrong = code === "00000000" ? "11111111" : "00000000";
    // Past the code's attempts, then not even code-shaped: refused each time, recorded only while attempts were used.
    for (let i = 0; i < LOGIN_CODE_MAX_ATTEMPTS + 10; i++) page = await guesser.submit(page, /\/code$/, { code: wrong });
    for (let i = 0; i < 5; i++) page = await guesser.submit(page, /\/code$/, { code: "not-a-code" });
    const failed = (await rowsFor(target.publicId)).filter((r) => r.action === "auth.login.failed");
    expect(failed.map((r) => r.result)).toEqual([...Array<string>(LOGIN_CODE_MAX_ATTEMPTS - 1).fill("invalid"), "too_many_attempts"]);
  });

  it("a refresh token presented again after the leeway: the grant is revoked, and the reuse is on record", async () => {
    const rotated = await oidc.refreshTokenGrant(rp, refreshToken);
    secrets.push(rotated.access_token, rotated.refresh_token!);
    await auth.sql`
      update altalune_oidc_models set consumed_at = consumed_at - interval '1 minute'
      where model = 'RefreshToken' and id = ${sha256Hex(refreshToken)}`;
    await expect(oidc.refreshTokenGrant(rp, refreshToken)).rejects.toMatchObject({ error: "invalid_grant" });
    const rows = await eventually(
      () => rowsFor(user.publicId),
      (r) => r.some((x) => x.action === "auth.refresh_token.reused"),
    );
    expect(rows.filter((r) => r.action === "auth.refresh_token.reused")).toEqual([
      expect.objectContaining({
        actor_type: "client",
        actor_public_id: app.clientId,
        target_type: "user",
        target_public_id: user.publicId,
        result: "grant_revoked",
        tags: ["security", "grant_revoked"],
      }),
    ]);
  });

  it("revoking a consent on the account page", async () => {
    // A new consent to revoke (the refresh-token reuse above revoked the first grant).
    const start = await authorizationUrl(rp, app, { scope: "openid profile email offline_access", prompt: "consent" });
    let page: Page & { leftTo?: URL } = await browser.navigate(start.url.href);
    if (/\/consent"/.test(page.body)) page = await browser.submit(page, /\/consent$/, { decision: "allow" });
    expect(page.leftTo).toBeDefined();
    const account = await browser.request("/account");
    expect(formsOf(account.body).some((f) => f.action === "/account/consents/revoke")).toBe(true);
    const revoked = await browser.submit(account, "/account/consents/revoke");
    expect(revoked.body).toContain("Access revoked.");
    const rows = (await rowsFor(user.publicId)).filter((r) => r.action.startsWith("auth.consent."));
    expect(rows.map((r) => r.action)).toEqual(["auth.consent.granted", "auth.consent.granted", "auth.consent.revoked"]);
    expect(rows.at(-1)).toMatchObject({ actor_public_id: user.publicId, target_type: "client", target_public_id: app.clientId, details: { client_id: app.clientId, grants: "1" } });
  });

  it("linking an upstream identity from the account page", async () => {
    const existing = await createUser(auth.sql, { email: email("linker") });
    const linkBrowser = new Browser(auth.issuer);
    const login = await linkBrowser.navigate("/account");
    const codePage = await linkBrowser.submit(login, /\/login$/, { email: existing.email });
    const code = await codeFromMail(auth.smtp, existing.email);
    secrets.push(code);
    const page = await linkBrowser.submit(codePage, /\/code$/, { code });
    const form = formsOf(page.body).find((f) => f.action === "/account/identities/link" && f.fields["provider"] === SLUG);
    if (!form) throw new Error("no link form");
    const upstreamEmail = email("upstream");
    idp.next = { account: { sub: `audit-sub-${seq}`, email: upstreamEmail, email_verified: true } };
    const toIdp = await linkBrowser.navigate(form.action, { method: "POST", form: form.fields });
    const back = await new Browser(toIdp.leftTo!.origin).navigate(toIdp.leftTo!.href);
    const done = await linkBrowser.navigate(back.leftTo!.href);
    expect(done.body).toContain("Sign-in method linked");
    const linked = (await rowsFor(existing.publicId)).filter((r) => r.action === "auth.identity.linked");
    expect(linked).toEqual([
      expect.objectContaining({
        actor_public_id: existing.publicId,
        target_public_id: existing.publicId,
        details: { provider: SLUG, linked_by: "account_page" },
        tags: ["security", "identity_linked"],
      }),
    ]);
  });

  it("rotating the signing key writes its row in the rotating transaction", async () => {
    const { kid } = await rotateSigningKey(auth.sql, TEST_ENCRYPTION_KEY, { activationDelaySeconds: 60, retentionSeconds: keyRetentionSeconds(auth.config) });
    const rows = await rowsFor(kid);
    expect(rows).toEqual([
      expect.objectContaining({ action: "auth.signing_key.rotated", actor_type: "system", target_type: "signing_key", target_public_id: kid, result: "ok", tags: ["security", "key_rotated"] }),
    ]);
  });

  it("never writes a code, token, secret or address", async () => {
    const sealed = await auth.sql<{ s: string }[]>`select client_secret_sealed as s from altalune_oauth_clients where client_id = ${app.clientId}`;
    const all = [...secrets, sealed[0]!.s];
    expect(all.length).toBeGreaterThan(10);
    const rows = await auth.sql<{ text: string }[]>`select a::text as text from altalune_audit_events a`;
    expect(rows.length).toBeGreaterThanOrEqual(10);
    expect(all.filter((s) => rows.some((r) => r.text.includes(s)))).toEqual([]);
  });
});
