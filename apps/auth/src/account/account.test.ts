import { newPublicId } from "@altalune/core";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT_CLIENT_ID } from "../provider/client-store.js";
import { createClient, createUser, startTestAuth, type TestAuth, type TestClient } from "../testing/auth-harness.js";
import { Browser, formsOf, type Page } from "../testing/browser.js";
import { authorizationUrl, browserLogin, codeFromMail, exchange, relyingParty } from "../testing/login-flow.js";
import { NAME_CONTROL_CHARS, NAME_TOO_LONG } from "./profile-input.js";

// The account pages against the real server: sign-in through the provider's login pages (email
// code from the SMTP receiver), a third-party app's consent and tokens (openid-client), and the
// database checked after every change.

let auth: TestAuth;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;
const email = (label: string) => `${label}-${++seq}@example.test`;

const EVIL = `"><script>alert('x')</script><img src=x onerror=alert(1)>`;
const ESCAPED = "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;";

beforeAll(async () => {
  // Many logins from one address (127.0.0.1): lift the per-IP login-code limit for this file.
  auth = await startTestAuth({ server: { loginCodeLimits: { perIp: { limit: 10_000, windowSeconds: 900 } } } });
  app = await createClient(auth.sql, { name: "Third Party App", confidential: true });
  rp = await relyingParty(auth.issuer, app);
});

afterAll(async () => {
  await auth?.close();
});

type Nav = Page & { leftTo?: URL };

/** An anonymous browser opens `path`, signs in with the emailed code, and is sent back. */
async function signInAt(browser: Browser, address: string, path = "/account"): Promise<Nav> {
  const login = await browser.navigate(path);
  expect(login.body).toMatch(/\/login"/);
  const codePage = await browser.submit(login, /\/login$/, { email: address });
  const code = await codeFromMail(auth.smtp, address);
  return browser.submit(codePage, /\/code$/, { code });
}

async function signedInUser(spec: Parameters<typeof createUser>[1]) {
  const user = await createUser(auth.sql, spec);
  const browser = new Browser(auth.issuer);
  const page = await signInAt(browser, user.email);
  expect(page.status).toBe(200);
  return { user, browser, page };
}

/** The CSRF token of the page's form posting to `action`. */
function csrfOf(page: Page, action: string): string {
  const form = formsOf(page.body).find((f) => f.action === action);
  if (!form?.fields["csrf_token"]) throw new Error(`no form to ${action} in:\n${page.body}`);
  return form.fields["csrf_token"];
}

async function names(userId: string) {
  const [row] = await auth.sql<{ first_name: string; last_name: string }[]>`select first_name, last_name from altalune_users where id = ${userId}`;
  return row;
}

async function sessionsOf(publicId: string): Promise<number> {
  const [row] = await auth.sql<{ n: number }[]>`select count(*)::int as n from altalune_oidc_models where model = 'Session' and account_id = ${publicId}`;
  return row!.n;
}

async function grantsOf(publicId: string, clientId: string): Promise<number> {
  const [row] = await auth.sql<{ n: number }[]>`
    select count(*)::int as n from altalune_oidc_models where model = 'Grant' and account_id = ${publicId} and client_id = ${clientId}`;
  return row!.n;
}

/** A third-party login with consent and offline_access in `browser`; the tokens it got. */
async function thirdPartyLogin(browser: Browser, address: string, scope = "openid email offline_access") {
  const start = await authorizationUrl(rp, app, { scope, prompt: "consent" });
  const { callback, consented } = await browserLogin(browser, auth.smtp, start, address);
  expect(consented).toBe(true);
  return exchange(rp, start, callback);
}

describe("sign-in", () => {
  it("sends an anonymous visitor through the login pages and back to /account, leaving no code behind", async () => {
    const user = await createUser(auth.sql, { email: email("ada"), firstName: "Ada", lastName: "Lovelace" });
    const browser = new Browser(auth.issuer);

    const first = await browser.request("/account");
    expect(first.status).toBe(302);
    const authorize = new URL(first.headers.get("location")!);
    expect(authorize.origin + authorize.pathname).toBe(`${auth.issuer}/oauth/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: "code",
      redirect_uri: `${auth.issuer}/account/callback`,
      scope: "openid",
      code_challenge_method: "S256",
    });
    expect(first.headers.getSetCookie().join("\n")).toMatch(/altalune_account_login=.*path=\/account.*httponly/i);

    const login = await browser.navigate(authorize.href);
    expect(login.body).toContain("to continue to <strong>your account</strong>");
    const codePage = await browser.submit(login, /\/login$/, { email: user.email });
    const page = await browser.submit(codePage, /\/code$/, { code: await codeFromMail(auth.smtp, user.email) });
    expect(page.status).toBe(200);
    expect(new URL(page.url).pathname).toBe("/account");
    expect(page.body).toContain(user.email);
    expect(page.body).toContain("Ada Lovelace");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const nonce = /<style nonce="([^"]+)">/.exec(page.body)?.[1];
    expect(page.headers.get("content-security-policy")).toContain(`style-src 'nonce-${nonce}'`);
    expect(page.body).not.toMatch(/<script/i);
    // No consent page for the built-in client, and the login cookie is gone.
    expect(browser.cookieNames()).not.toContain("altalune_account_login");
    // The code was consumed at the callback; the built-in client's grant is not listed as a consent.
    const codes = await auth.sql`select 1 from altalune_oidc_models where model = 'AuthorizationCode' and account_id = ${user.publicId}`;
    expect(codes).toHaveLength(0);
    expect(page.body).toContain("No application has access to your account.");
    expect(page.body).not.toContain(ACCOUNT_CLIENT_ID);

    // Signed in now: no second login.
    const again = await browser.navigate("/account");
    expect(again.status).toBe(200);
    expect(again.body).toContain(user.email);
  });

  it("returns to the page the visitor asked for (edit)", async () => {
    const user = await createUser(auth.sql, { email: email("edit-first") });
    const page = await signInAt(new Browser(auth.issuer), user.email, "/account/edit");
    expect(new URL(page.url).pathname).toBe("/account/edit");
    expect(page.body).toContain("Edit profile");
  });

  it("uses the session of a login made for another application", async () => {
    const user = await createUser(auth.sql, { email: email("shared") });
    const browser = new Browser(auth.issuer);
    await thirdPartyLogin(browser, user.email, "openid email");
    const page = await browser.request("/account");
    expect(page.status).toBe(200);
    expect(page.body).toContain(user.email);
  });

  it("refuses a callback this browser did not start, a wrong state and a forged code", async () => {
    const browser = new Browser(auth.issuer);
    const stray = await browser.request("/account/callback?code=abc&state=def");
    expect(stray.status).toBe(400);
    expect(stray.body).toContain("Sign-in not completed");

    const first = await browser.request("/account");
    const state = new URL(first.headers.get("location")!).searchParams.get("state")!;
    const wrong = await browser.request(`/account/callback?code=abc&state=${state}x`);
    expect(wrong.status).toBe(400);
    // The pending sign-in is used up by any callback: the right state afterwards is refused too.
    expect((await browser.request(`/account/callback?code=abc&state=${state}`)).status).toBe(400);

    const second = await browser.request("/account");
    const state2 = new URL(second.headers.get("location")!).searchParams.get("state")!;
    const forged = await browser.request(`/account/callback?code=not-a-code&state=${state2}`);
    expect(forged.status).toBe(400);
    // Still signed out.
    expect((await browser.request("/account")).status).toBe(302);
  });

  it("refuses a code issued to another client at the account callback", async () => {
    const user = await createUser(auth.sql, { email: email("mixup") });
    const browser = new Browser(auth.issuer);
    const pending = await browser.request("/account");
    const state = new URL(pending.headers.get("location")!).searchParams.get("state")!;
    // Signed in now, with a code for the third-party app in hand.
    const start = await authorizationUrl(rp, app, { scope: "openid email" });
    const { callback } = await browserLogin(browser, auth.smtp, start, user.email);
    const res = await browser.request(`/account/callback?code=${encodeURIComponent(callback.searchParams.get("code")!)}&state=${state}&iss=${encodeURIComponent(auth.issuer)}`);
    expect(res.status).toBe(400);
    expect(res.body).toContain("Sign-in not completed");
  });

  it.each([
    ["destroyed", (publicId: string) => auth.sql`delete from altalune_oidc_models where model = 'Session' and account_id = ${publicId}`],
    ["expired", (publicId: string) => auth.sql`update altalune_oidc_models set expires_at = CURRENT_TIMESTAMP - interval '1 second' where model = 'Session' and account_id = ${publicId}`],
  ])("asks for a login again when the session is %s", async (_label, end) => {
    const { user, browser } = await signedInUser({ email: email("ended") });
    await end(user.publicId);
    const page = await browser.request("/account");
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toContain("/oauth/authorize?");
    // A form post without a session changes nothing and goes to the (signing-in) profile page.
    const post = await browser.request("/account/edit", { form: { csrf_token: "x", first_name: "Changed", last_name: "" } });
    expect(post.status).toBe(303);
    expect(post.headers.get("location")).toBe("/account");
    expect((await names(user.id))?.first_name).toBe("");
  });

  it("ends the session of a deleted user and asks for a login", async () => {
    const { user, browser } = await signedInUser({ email: email("deleted") });
    await auth.sql`delete from altalune_users where id = ${user.id}`;
    const page = await browser.request("/account");
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toContain("/oauth/authorize?");
    expect(await sessionsOf(user.publicId)).toBe(0);
  });
});

describe("profile", () => {
  it("lists the user's identities with provider, origin application and last sign-in, escaped", async () => {
    const { user, browser } = await signedInUser({ email: email("ids") });
    await auth.sql`
      insert into altalune_oauth_providers (public_id, provider_type, slug, display_name, client_id, client_secret_sealed, scopes, issuer_url)
      values (${newPublicId()}, 'oidc', 'acme-sso', ${`Acme ${EVIL}`}, 'x', 'v1.sealed', ${["openid"]}, 'https://sso.acme.example')`;
    await auth.sql`
      insert into altalune_user_identities (public_id, user_id, provider, provider_user_id, email, origin_oauth_client_name, last_login_at)
      values (${newPublicId()}, ${user.id}, 'github', ${`gh-${seq}`}, ${user.email}, 'Dashboard', '2030-01-02T03:04:00Z'),
             (${newPublicId()}, ${user.id}, 'acme-sso', ${`acme-${seq}`}, ${user.email}, ${EVIL}, null)`;
    const page = await browser.request("/account");
    expect(page.body).toContain('<li data-identity="github"><strong>github</strong>');
    expect(page.body).toContain("First used with Dashboard");
    expect(page.body).toContain('<time datetime="2030-01-02T03:04:00.000Z">2030-01-02 03:04 UTC</time>');
    expect(page.body).toContain(`<strong>Acme ${ESCAPED}</strong>`);
    expect(page.body).toContain(`First used with ${ESCAPED}`);
    expect(page.body).toContain("Last sign-in: never");
    expect(page.body).not.toMatch(/<script|<img/i);
  });

  it("lists another user's identities nowhere", async () => {
    const { browser } = await signedInUser({ email: email("no-ids") });
    const page = await browser.request("/account");
    expect(page.body).toContain("Email sign-in code only.");
  });
});

describe("consents", () => {
  it("lists a third-party consent; revoking it ends the app's refresh token and removes the consent", async () => {
    const user = await createUser(auth.sql, { email: email("consent") });
    const browser = new Browser(auth.issuer);
    const tokens = await thirdPartyLogin(browser, user.email);
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const page = await browser.request("/account");
    expect(page.status).toBe(200);
    const item = new RegExp(`<li data-client="${app.clientId}"><strong>Third Party App</strong>[\\s\\S]*?</li>`).exec(page.body)?.[0];
    expect(item).toBeDefined();
    expect(item).toContain("Verify your identity");
    expect(item).toContain("Access your email address");
    expect(item).toContain("Access your data while you&#39;re offline");
    expect(item).toMatch(/Allowed: <time datetime="\d{4}-/);
    const form = formsOf(item!)[0]!;
    expect(form).toMatchObject({ action: "/account/consents/revoke", method: "POST", fields: { client_id: app.clientId } });

    // Still working before the revocation (rotates the refresh token).
    const rotated = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);

    const revoked = await browser.submit(page, "/account/consents/revoke");
    expect(new URL(revoked.url).pathname).toBe("/account");
    expect(revoked.body).toContain("Access revoked.");
    expect(revoked.body).not.toContain(`data-client="${app.clientId}"`);
    expect(revoked.body).toContain("No application has access to your account.");

    await expect(oidc.refreshTokenGrant(rp, rotated.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
    expect(await grantsOf(user.publicId, app.clientId)).toBe(0);
    const left = await auth.sql`
      select model from altalune_oidc_models where account_id = ${user.publicId} and client_id = ${app.clientId} and model <> 'Interaction'`;
    expect(left).toEqual([]);
    // The login session itself is untouched.
    expect(await sessionsOf(user.publicId)).toBe(1);

    // The app has to ask again.
    const start = await authorizationUrl(rp, app, { scope: "openid email" });
    expect((await browserLogin(browser, auth.smtp, start, user.email)).consented).toBe(true);
  });

  it("answers 404 for an application without consent, and never touches another user's consent", async () => {
    const owner = await createUser(auth.sql, { email: email("owner") });
    const ownerTokens = await thirdPartyLogin(new Browser(auth.issuer), owner.email);
    const { browser, page } = await signedInUser({ email: email("intruder") });
    const token = csrfOf(page, "/account/logout");

    for (const clientId of [app.clientId, ACCOUNT_CLIENT_ID, "no-such-client"]) {
      const res = await browser.request("/account/consents/revoke", { form: { csrf_token: token, client_id: clientId } });
      expect(res.status).toBe(404);
      expect(res.body).toContain("Consent not found");
    }
    const missing = await browser.request("/account/consents/revoke", { form: { csrf_token: token } });
    expect(missing.status).toBe(400);

    expect(await grantsOf(owner.publicId, app.clientId)).toBeGreaterThan(0);
    expect((await oidc.refreshTokenGrant(rp, ownerTokens.refresh_token!)).access_token).toEqual(expect.any(String));
  });
});

describe("edit profile", () => {
  const long = (n: number) => "x".repeat(n);

  it.each([
    ["trims both names", "  Grace ", " Hopper  ", 200, "Grace", "Hopper"],
    ["accepts empty names", "", "", 200, "", ""],
    ["accepts 100 characters", long(100), long(100), 200, long(100), long(100)],
    ["counts characters, not UTF-16 units", "😀".repeat(100), "Ünïcödé", 200, "😀".repeat(100), "Ünïcödé"],
    ["refuses 101 characters (first)", long(101), "ok", 400, undefined, undefined],
    ["refuses 101 characters (last)", "ok", long(101), 400, undefined, undefined],
    ["refuses a control character", "Ada\u0007", "x", 400, undefined, undefined],
    ["refuses a line break inside", "Ada\nLovelace", "x", 400, undefined, undefined],
    ["refuses a bidi override", "Ada\u202Eecalevol", "x", 400, undefined, undefined],
  ])("%s", async (_label, first, last, status, savedFirst, savedLast) => {
    const { user, browser } = await signedInUser({ email: email("names"), firstName: "Before", lastName: "Edit" });
    const form = await browser.request("/account/edit");
    expect(form.body).toContain('value="Before"');
    expect(form.body).toContain(`value="${user.email}" readonly disabled`);
    const res = await browser.submit(form, "/account/edit", { first_name: first, last_name: last });
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(res.body).toContain("Your profile has been updated.");
      expect(await names(user.id)).toEqual({ first_name: savedFirst, last_name: savedLast });
    } else {
      expect(res.body).toContain(first.length > 100 || last.length > 100 ? NAME_TOO_LONG : NAME_CONTROL_CHARS);
      expect(await names(user.id)).toEqual({ first_name: "Before", last_name: "Edit" });
    }
  });

  it("refuses NUL characters without changing anything", async () => {
    const { user, browser } = await signedInUser({ email: email("nul"), firstName: "Before" });
    const form = await browser.request("/account/edit");
    const res = await browser.request("/account/edit", { form: { csrf_token: csrfOf(form, "/account/edit"), first_name: "A\0B", last_name: "" } });
    expect(res.status).toBe(400);
    expect((await names(user.id))?.first_name).toBe("Before");
  });

  it("stores hostile input as text and shows it escaped everywhere", async () => {
    const { user, browser } = await signedInUser({ email: email("evil") });
    const form = await browser.request("/account/edit");
    const saved = await browser.submit(form, "/account/edit", { first_name: EVIL, last_name: "</main>" });
    expect(saved.status).toBe(200);
    expect(saved.body).toContain(`value="${ESCAPED}"`);
    expect(await names(user.id)).toEqual({ first_name: EVIL, last_name: "</main>" });
    const profile = await browser.request("/account");
    expect(profile.body).toContain(`${ESCAPED} &lt;/main&gt;`);
    for (const body of [saved.body, profile.body]) {
      expect(body).not.toMatch(/<script|<img/i);
      expect(body.match(/<\/main>/g)).toHaveLength(1);
    }
  });
});

describe("verification", () => {
  it("resends the verification mail from the profile, then shows the rate limit after 3", async () => {
    const { user, browser } = await signedInUser({ email: email("verify") });
    // The login code verified the address; an address changed since is not verified.
    await auth.sql`update altalune_users set email_verified = false where id = ${user.id}`;
    let page = await browser.request("/account");
    expect(page.body).toContain("Your email address is not verified yet.");

    for (let i = 0; i < 3; i++) {
      page = await browser.submit(page, "/account/resend-verification");
      expect(new URL(page.url).pathname + new URL(page.url).search).toBe("/account?notice=verification_sent");
      expect(page.body).toContain('<div class="alert info" role="status">We sent you a new verification email.</div>');
      const mail = await auth.smtp.waitFor(user.email);
      expect(mail.subject).toMatch(/^Verify your email address/);
      expect(mail.text).toContain(`${auth.issuer}/verify-email?token=`);
    }
    page = await browser.submit(page, "/account/resend-verification");
    expect(page.body).toContain('<div class="alert error" role="alert">Too many verification emails.');
    const mails = auth.smtp.messages.filter((m) => m.to === user.email && m.subject.startsWith("Verify"));
    expect(mails).toHaveLength(3);

    // The link from the last mail verifies the address; the profile says so and hides the form.
    const link = /(http\S+verify-email\?token=\S+)/.exec(mails[2]!.text)![1]!;
    expect((await browser.request(link)).status).toBe(200);
    page = await browser.request("/account");
    expect(page.body).toContain("Email address verified.");
    expect(formsOf(page.body).map((f) => f.action)).not.toContain("/account/resend-verification");
  });

  it("unknown notice codes show nothing", async () => {
    const { browser } = await signedInUser({ email: email("notice") });
    const page = await browser.request(`/account?notice=${encodeURIComponent(EVIL)}`);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('class="alert');
  });
});

describe("logout", () => {
  it("ends the login session and its session-bound grants; /account asks for a login again", async () => {
    const user = await createUser(auth.sql, { email: email("logout") });
    const sessionBound = await createClient(auth.sql, { name: "Session-bound App", confidential: true });
    const browser = new Browser(auth.issuer);
    await signInAt(browser, user.email);
    // Same session: offline access survives a logout, as with oidc-provider's own logout; a grant
    // without it (and the account pages' own) does not.
    const offline = await thirdPartyLogin(browser, user.email);
    const boundRp = await relyingParty(auth.issuer, sessionBound);
    const start = await authorizationUrl(boundRp, sessionBound, { scope: "openid email" });
    const { callback } = await browserLogin(browser, auth.smtp, start, user.email);
    await exchange(boundRp, start, callback);
    expect(await sessionsOf(user.publicId)).toBe(1);
    expect(await grantsOf(user.publicId, ACCOUNT_CLIENT_ID)).toBe(1);
    expect(await grantsOf(user.publicId, sessionBound.clientId)).toBe(1);

    const page = await browser.navigate("/account");
    expect(page.body).toContain("Session-bound App");
    const out = await browser.submit(page, "/account/logout");
    expect(out.status).toBe(200);
    expect(out.body).toContain("You have signed out");
    expect(out.headers.getSetCookie().join("\n")).toMatch(/_session=;.*expires=Thu, 01 Jan 1970/i);
    expect(browser.cookieNames()).not.toContain("_session");
    expect(await sessionsOf(user.publicId)).toBe(0);
    expect(await grantsOf(user.publicId, ACCOUNT_CLIENT_ID)).toBe(0);
    expect(await grantsOf(user.publicId, sessionBound.clientId)).toBe(0);
    expect(await grantsOf(user.publicId, app.clientId)).toBe(1);
    expect((await oidc.refreshTokenGrant(rp, offline.refresh_token!)).access_token).toEqual(expect.any(String));

    const again = await browser.navigate("/account");
    expect(again.body).toMatch(/\/login"/);
    // Posting again without a session is harmless.
    expect((await browser.request("/account/logout", { form: { csrf_token: "x" } })).status).toBe(200);
  });
});

describe("CSRF", () => {
  it("refuses forms without or with a wrong token (403) and changes nothing", async () => {
    const user = await createUser(auth.sql, { email: email("csrf"), firstName: "Keep" });
    const browser = new Browser(auth.issuer);
    await thirdPartyLogin(browser, user.email);
    await auth.sql`update altalune_users set email_verified = false where id = ${user.id}`;
    const page = await browser.navigate("/account");
    const good = csrfOf(page, "/account/logout");
    const other = await signedInUser({ email: email("csrf-other") });
    const foreign = csrfOf(other.page, "/account/logout");
    const mailsBefore = auth.smtp.messages.filter((m) => m.to === user.email).length;

    const forms: [string, Record<string, string>][] = [
      ["/account/edit", { first_name: "Changed", last_name: "Changed" }],
      ["/account/consents/revoke", { client_id: app.clientId }],
      ["/account/resend-verification", {}],
      ["/account/logout", {}],
    ];
    for (const [action, fields] of forms) {
      for (const token of [undefined, "", "garbage", `${good}x`, foreign]) {
        const res = await browser.request(action, { method: "POST", form: { ...fields, ...(token === undefined ? {} : { csrf_token: token }) } });
        expect(res.status, `${action} with ${String(token)}`).toBe(403);
        expect(res.body).toContain("Form expired");
      }
    }
    expect((await names(user.id))?.first_name).toBe("Keep");
    expect(await grantsOf(user.publicId, app.clientId)).toBeGreaterThan(0);
    expect(auth.smtp.messages.filter((m) => m.to === user.email)).toHaveLength(mailsBefore);
    expect(await sessionsOf(user.publicId)).toBe(1);
    // A JSON body is not a form.
    const json = await browser.request("/account/edit", { json: { csrf_token: good, first_name: "Changed" } });
    expect(json.status).toBe(415);
    expect((await names(user.id))?.first_name).toBe("Keep");
  });
});

describe("inactive user", () => {
  it("is shown the pending-activation page, can resend verification and sign out", async () => {
    const { user, browser } = await signedInUser({ email: email("inactive") });
    await auth.sql`update altalune_users set is_active = false, email_verified = false where id = ${user.id}`;
    for (const path of ["/account", "/account/edit"]) {
      const page = await browser.request(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain("Your account is pending activation");
      expect(page.body).not.toContain("Applications with access");
    }
    let page = await browser.request("/account");
    const edit = await browser.request("/account/edit", { form: { csrf_token: csrfOf(page, "/account/logout"), first_name: "No", last_name: "" } });
    expect(edit.body).toContain("Your account is pending activation");
    expect((await names(user.id))?.first_name).toBe("");

    page = await browser.submit(page, "/account/resend-verification");
    expect(page.body).toContain("Your account is pending activation");
    expect(page.body).toContain("We sent you a new verification email.");
    expect((await auth.smtp.waitFor(user.email)).subject).toMatch(/^Verify/);

    const out = await browser.submit(page, "/account/logout");
    expect(out.body).toContain("You have signed out");
    expect(await sessionsOf(user.publicId)).toBe(0);
  });
});
