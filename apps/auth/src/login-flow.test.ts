import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "@altalune/core";
import { createClient, createUser, startTestAuth, type TestAuth, type TestClient } from "./testing/auth-harness.js";
import { Browser, formsOf } from "./testing/browser.js";
import { authorizationUrl, browserLogin, codeFromMail, exchange, relyingParty, startLogin } from "./testing/login-flow.js";

// The authorization-code flow as a third-party app (openid-client, discovery only) and a person
// at a browser without JavaScript go through it: email → code from the SMTP receiver → consent
// → callback → tokens; and the refusals on the way.

let auth: TestAuth;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;
const email = (label: string) => `${label}-${++seq}@example.test`;

beforeAll(async () => {
  auth = await startTestAuth();
  app = await createClient(auth.sql, {
    name: "Third Party App",
    confidential: true,
    allowedScopes: ["openid", "profile", "email", "offline_access", "employee:read", "project:read"],
  });
  rp = await relyingParty(auth.issuer, app);
});

afterAll(async () => {
  await auth?.close();
});

describe("authorization code + PKCE, end to end", () => {
  it("logs a user in with an emailed code, asks consent, and issues tokens with the API claims (the consented API scopes)", async () => {
    const user = await createUser(auth.sql, {
      email: email("ada"),
      firstName: "Ada",
      lastName: "Lovelace",
      permissions: ["project:read"],
      roles: [{ name: "auditor", permissions: ["employee:read", "project:read"] }],
      projects: [
        { name: "Analytical Engine", role: "owner" },
        { name: "Difference Engine", role: "member" },
      ],
    });
    const browser = new Browser(auth.issuer);
    const start = await authorizationUrl(rp, app, { scope: "openid profile email offline_access employee:read project:read", prompt: "consent" });
    const { callback, consented } = await browserLogin(browser, auth.smtp, start, user.email);
    expect(consented).toBe(true);
    expect(callback.origin + callback.pathname).toBe(app.redirectUri);
    expect(callback.searchParams.get("iss")).toBe(auth.issuer);
    const tokens = await exchange(rp, start, callback);

    const jwks = createRemoteJWKSet(new URL(`${auth.issuer}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: auth.issuer,
      audience: auth.config.auth.apiAudience,
      typ: "at+jwt",
    });
    expect(protectedHeader).toMatchObject({ alg: "RS256", typ: "at+jwt" });
    expect(payload).toMatchObject({
      sub: user.publicId,
      client_id: app.clientId,
      perms: ["employee:read", "project:read"],
      memberships: user.projects,
      email: user.email,
      // A correct code proves the address.
      email_verified: true,
      name: "Ada Lovelace",
    });
    expect(String(payload["scope"]).split(" ").sort()).toEqual(["email", "employee:read", "offline_access", "openid", "profile", "project:read"]);
    expect(payload.exp! - payload.iat!).toBe(auth.config.auth.accessTokenTtlSeconds);
    expect(tokens.expires_in).toBe(auth.config.auth.accessTokenTtlSeconds);
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const idClaims = tokens.claims()!;
    expect(idClaims).toMatchObject({ sub: user.publicId, aud: app.clientId, email: user.email, email_verified: true, name: "Ada Lovelace", given_name: "Ada", family_name: "Lovelace" });

    // Userinfo takes the access token (a JWT for the API) and answers per scope.
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, user.publicId);
    expect(info).toEqual({ sub: user.publicId, email: user.email, email_verified: true, name: "Ada Lovelace", given_name: "Ada", family_name: "Lovelace" });

    // Nothing stored is usable: ids are hashes, payloads do not hold the values handed out.
    const rows = await auth.sql<{ model: string; id: string; payload: unknown; uid: string | null }[]>`
      select model, id, payload, uid from altalune_oidc_models`;
    const dump = JSON.stringify(rows);
    const code = callback.searchParams.get("code")!;
    const handedOut = [code, tokens.refresh_token!, tokens.access_token, ...browser.cookieValues()];
    for (const value of handedOut) expect(dump).not.toContain(value);
    expect(rows.map((r) => r.id)).toContain(sha256Hex(tokens.refresh_token!));
    expect(rows.map((r) => r.id)).toContain(sha256Hex(code));
    for (const r of rows) expect(r.id).toMatch(/^[0-9a-f]{64}$/);
    // And the login code is not stored in clear either.
    const codes = await auth.sql`select code_hash from altalune_login_codes`;
    expect(JSON.stringify(codes)).not.toMatch(/"\d{8}"/);
  });

  it("an interaction of a signed-in browser does not store the login session's id", async () => {
    const user = await createUser(auth.sql, { email: email("abandon") });
    const browser = new Browser(auth.issuer);
    await browserLogin(browser, auth.smtp, await authorizationUrl(rp, app, { scope: "openid" }), user.email);
    const session = browser.cookie("_session");
    expect(session).toEqual(expect.any(String));
    // Signed in; a new request asks for consent again and is abandoned on that page.
    const page = await browser.navigate((await authorizationUrl(rp, app, { scope: "openid", prompt: "consent" })).url.href);
    expect(page.body).toMatch(/\/consent"/);
    // No API scope asked: the page says the application gets no access to the API.
    expect(page.body).toContain("It will not be able to use");
    const interactions = await auth.sql<{ payload: { session?: Record<string, unknown> } }[]>`
      select payload from altalune_oidc_models where model = 'Interaction' and payload->'session'->>'accountId' = ${user.publicId}`;
    expect(interactions.length).toBeGreaterThan(0);
    expect(JSON.stringify(interactions)).not.toContain(session!);
    for (const i of interactions) expect(i.payload.session).not.toHaveProperty("cookie");
  });

  it("remembers consent per client and scopes, across sessions; prompt=consent asks again; more scopes ask again", async () => {
    const user = await createUser(auth.sql, { email: email("grace") });
    const first = await authorizationUrl(rp, app, { scope: "openid email" });
    expect((await browserLogin(new Browser(auth.issuer), auth.smtp, first, user.email)).consented).toBe(true);

    // Same browser: no login, no consent.
    const browser = new Browser(auth.issuer);
    const second = await authorizationUrl(rp, app, { scope: "openid email" });
    const again = await browserLogin(browser, auth.smtp, second, user.email);
    expect(again.consented).toBe(false);
    expect((await exchange(rp, second, again.callback)).access_token).toEqual(expect.any(String));

    const sameSession = await browserLogin(browser, auth.smtp, await authorizationUrl(rp, app, { scope: "openid email" }), user.email);
    expect(sameSession.consented).toBe(false);

    const forced = await browserLogin(browser, auth.smtp, await authorizationUrl(rp, app, { scope: "openid email", prompt: "consent" }), user.email);
    expect(forced.consented).toBe(true);

    const wider = await browserLogin(browser, auth.smtp, await authorizationUrl(rp, app, { scope: "openid email profile" }), user.email);
    expect(wider.consented).toBe(true);
  });

  it("returns access_denied when the user denies consent", async () => {
    const user = await createUser(auth.sql, { email: email("deny") });
    const start = await authorizationUrl(rp, app, { scope: "openid profile" });
    const { callback } = await browserLogin(new Browser(auth.issuer), auth.smtp, start, user.email, "deny");
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(callback.searchParams.get("code")).toBeNull();
    expect(callback.searchParams.get("state")).toBe(start.state);
  });

  it("the first-party dashboard client skips consent and always gets a refresh token", async () => {
    const dashboard = await createClient(auth.sql, { name: "Dashboard", isDefault: true, confidential: true, allowedScopes: ["openid", "profile", "email"] });
    const dashRp = await relyingParty(auth.issuer, dashboard);
    const user = await createUser(auth.sql, { email: email("dash") });
    const start = await authorizationUrl(dashRp, dashboard, { scope: "openid profile email", prompt: "consent" });
    const { callback, consented } = await browserLogin(new Browser(auth.issuer), auth.smtp, start, user.email);
    expect(consented).toBe(false);
    const tokens = await exchange(dashRp, start, callback);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(decodeJwt(tokens.access_token).sub).toBe(user.publicId);
  });

  it("a public client logs in with PKCE and no secret", async () => {
    const spa = await createClient(auth.sql, { name: "SPA", confidential: false, redirectUris: ["http://localhost:5173/cb"] });
    const spaRp = await relyingParty(auth.issuer, spa);
    const user = await createUser(auth.sql, { email: email("spa") });
    const start = await authorizationUrl(spaRp, spa, { scope: "openid" });
    const { callback } = await browserLogin(new Browser(auth.issuer), auth.smtp, start, user.email);
    const tokens = await exchange(spaRp, start, callback);
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: user.publicId, client_id: spa.clientId, perms: [], memberships: {}, email_verified: true });
    // No email/profile scope: neither in the access token nor at userinfo.
    expect(decodeJwt(tokens.access_token)).not.toHaveProperty("email");
    expect(await oidc.fetchUserInfo(spaRp, tokens.access_token, user.publicId)).toEqual({ sub: user.publicId });
  });
});

describe("the login pages", () => {
  it("answers the same for an unknown address, and never sends it a code", async () => {
    const browser = new Browser(auth.issuer);
    const start = await authorizationUrl(rp, app);
    const page = await startLogin(browser, start, email("nobody"));
    expect(page.status).toBe(200);
    expect(page.body).toContain("Check your email");
    const known = await createUser(auth.sql, { email: email("known") });
    const knownPage = await startLogin(new Browser(auth.issuer), await authorizationUrl(rp, app), known.email);
    const strip = (html: string) => html.replace(/<strong>[^<]*<\/strong>/g, "").replace(/value="[^"]*"/g, "").replace(/nonce="[^"]*"|\/interaction\/[^/"]+/g, "");
    expect(strip(knownPage.body)).toBe(strip(page.body));
    await codeFromMail(auth.smtp, known.email);
    expect(auth.smtp.messages.some((m) => m.to.startsWith("nobody-"))).toBe(false);
  });

  it("refuses a form without its CSRF token", async () => {
    const browser = new Browser(auth.issuer);
    const page = await browser.navigate((await authorizationUrl(rp, app)).url.href);
    const form = formsOf(page.body).find((f) => f.action.endsWith("/login"))!;
    const refused = await browser.request(new URL(form.action, page.url).href, { form: { email: "x@example.test" } });
    expect(refused.status).toBe(403);
    const forged = await browser.request(new URL(form.action, page.url).href, { form: { email: "x@example.test", csrf_token: "0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } });
    expect(forged.status).toBe(403);
  });

  it("refuses every sign-in step's POST without its CSRF token, the steps read from the sources", async () => {
    // Every POST route below /interaction/:uid, as the interaction routes declare them: a new
    // step is checked here without editing this test.
    const dir = new URL("./interactions/", import.meta.url);
    const steps = readdirSync(dir)
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .flatMap((f) => [...readFileSync(new URL(f, dir), "utf8").matchAll(/router\.post\("\/interaction\/:uid\/([a-z-]+)"/g)].map((m) => m[1]!));
    expect(steps.length).toBeGreaterThanOrEqual(6);
    const browser = new Browser(auth.issuer);
    const page = await browser.navigate((await authorizationUrl(rp, app)).url.href);
    const base = formsOf(page.body).find((f) => f.action.endsWith("/login"))!.action.replace(/\/login$/, "");
    for (const step of steps) {
      for (const csrf_token of [undefined, "0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]) {
        const res = await browser.request(new URL(`${base}/${step}`, page.url).href, { form: { email: "x@example.test", code: "12345678", ...(csrf_token ? { csrf_token } : {}) } });
        expect(res.status, `${step} with ${String(csrf_token)}`).toBe(403);
        expect(res.body).toContain("Form expired");
      }
    }
    expect(auth.smtp.messages.some((m) => m.to === "x@example.test")).toBe(false);
  });

  it("refuses an expired code, a wrong code, and kills a code after 5 wrong attempts", async () => {
    const user = await createUser(auth.sql, { email: email("otp") });
    const browser = new Browser(auth.issuer);
    let page = await startLogin(browser, await authorizationUrl(rp, app), user.email);
    const code = await codeFromMail(auth.smtp, user.email);
    const wrong = code === "00000000" ? "11111111" : "00000000";
    page = await browser.submit(page, /\/code$/, { code: wrong });
    expect(page.status).toBe(400);
    expect(page.body).toContain("That code is not correct");
    for (let i = 0; i < 4; i++) page = await browser.submit(page, /\/code$/, { code: wrong });
    page = await browser.submit(page, /\/code$/, { code });
    expect(page.status).toBe(400);
    expect(page.body).toContain("Too many wrong attempts");

    // A new code, then expired before use.
    page = await browser.submit(page, /\/resend-code$/);
    expect(page.body).toContain("We sent a new code");
    const fresh = await codeFromMail(auth.smtp, user.email);
    await auth.sql`update altalune_login_codes set expires_at = now() - interval '1 second' where user_id = ${user.id}`;
    page = await browser.submit(page, /\/code$/, { code: fresh });
    expect(page.status).toBe(400);
    expect(page.body).toContain("expired");
  });

  it("limits codes per address per sign-in (3 per 15 minutes)", async () => {
    const user = await createUser(auth.sql, { email: email("limit") });
    const browser = new Browser(auth.issuer);
    let page = await startLogin(browser, await authorizationUrl(rp, app), user.email);
    page = await browser.submit(page, /\/resend-code$/);
    page = await browser.submit(page, /\/resend-code$/);
    expect(page.status).toBe(200);
    page = await browser.submit(page, /\/resend-code$/);
    expect(page.status).toBe(429);
    expect(page.body).toContain("Too many requests");
  });

  it("keeps an inactive user on the pending-activation page, never back at the client", async () => {
    const user = await createUser(auth.sql, { email: email("pending"), active: false });
    const browser = new Browser(auth.issuer);
    let page = await startLogin(browser, await authorizationUrl(rp, app), user.email);
    page = await browser.submit(page, /\/code$/, { code: await codeFromMail(auth.smtp, user.email) });
    expect(page.leftTo).toBeUndefined();
    expect(page.body).toContain("pending activation");
    // Reloading the interaction shows the same page; nothing reaches the client.
    const self = page.url.replace(/\/code$/, "");
    const reload = await browser.navigate(self);
    expect(reload.body).toContain("pending activation");
    expect(reload.leftTo).toBeUndefined();

    // Email already verified by the code: no resend form. Make it unverified to resend a link.
    await auth.sql`update altalune_users set email_verified = false where id = ${user.id}`;
    page = await browser.navigate(self);
    page = await browser.submit(page, /\/resend-verification$/);
    expect(page.body).toContain("We sent you a new verification email");
    const mail = await auth.smtp.waitFor(user.email);
    const link = /(http:\/\/\S+\/verify-email\?token=[A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    expect(link).toBeDefined();
    const verified = await fetch(link!);
    expect(verified.status).toBe(200);
    expect(await verified.text()).toContain("Email verified");
    const again = await fetch(link!);
    expect(again.status).toBe(400);

    page = await browser.submit(page, /\/abort$/);
    expect(page.body).toContain("You have signed out");
  });

  it("sends security headers with a CSP and httpOnly, SameSite=Lax cookies", async () => {
    const res = await fetch((await authorizationUrl(rp, app)).url, { redirect: "manual" });
    expect(res.status).toBe(303);
    const cookies = res.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c.toLowerCase()).toContain("httponly");
      expect(c.toLowerCase()).toContain("samesite=lax");
    }
    const page = await fetch(new URL(res.headers.get("location")!, auth.issuer), { headers: { cookie: cookies.map((c) => c.split(";")[0]).join("; ") } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
  });
});

describe("refusals at the authorization endpoint", () => {
  const authorize = async (params: Record<string, string>) =>
    fetch(`${auth.issuer}/oauth/authorize?${new URLSearchParams({ response_type: "code", scope: "openid", state: "s", ...params })}`, { redirect: "manual" });

  it("a public client without PKCE, and plain PKCE", async () => {
    const spa = await createClient(auth.sql, { confidential: false, redirectUris: ["http://localhost:5173/cb"] });
    const noPkce = await authorize({ client_id: spa.clientId, redirect_uri: spa.redirectUri });
    expect(noPkce.status).toBe(303);
    const to = new URL(noPkce.headers.get("location")!);
    expect(to.searchParams.get("error")).toBe("invalid_request");
    expect(to.searchParams.get("error_description")).toMatch(/PKCE/);

    const plain = await authorize({ client_id: spa.clientId, redirect_uri: spa.redirectUri, code_challenge: "a".repeat(43), code_challenge_method: "plain" });
    const plainTo = new URL(plain.headers.get("location")!);
    expect(plainTo.searchParams.get("error")).toBe("invalid_request");
    expect(plainTo.searchParams.get("error_description")).toMatch(/code_challenge_method|plain/);
  });

  it("a confidential client may skip PKCE only when its pkce_required is off", async () => {
    const strict = await createClient(auth.sql, { confidential: true, pkceRequired: true });
    const res = await authorize({ client_id: strict.clientId, redirect_uri: strict.redirectUri });
    expect(new URL(res.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
    const relaxed = await createClient(auth.sql, { confidential: true, pkceRequired: false });
    const ok = await authorize({ client_id: relaxed.clientId, redirect_uri: relaxed.redirectUri });
    expect(new URL(ok.headers.get("location")!, auth.issuer).pathname).toMatch(/^\/interaction\//);
  });

  it("a wrong redirect URI and an unknown client get an error page, not a redirect", async () => {
    const wrong = await authorize({ client_id: app.clientId, redirect_uri: `${app.redirectUri}/evil`, code_challenge: "a".repeat(43), code_challenge_method: "S256" });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.get("location")).toBeNull();
    expect(await wrong.text()).toContain("redirect_uri");

    const prefix = await authorize({ client_id: app.clientId, redirect_uri: app.redirectUri.replace("/callback", "/call") });
    expect(prefix.status).toBe(400);

    const unknown = await authorize({ client_id: "2b1c6d2e-0000-4000-8000-000000000000", redirect_uri: app.redirectUri });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("location")).toBeNull();
  });

  it("a scope outside the client's allowed scopes", async () => {
    const narrow = await createClient(auth.sql, { confidential: true, allowedScopes: ["openid"] });
    const res = await authorize({ client_id: narrow.clientId, redirect_uri: narrow.redirectUri, scope: "openid email", code_challenge: "a".repeat(43), code_challenge_method: "S256" });
    const to = new URL(res.headers.get("location")!);
    expect(to.searchParams.get("error")).toBe("invalid_scope");
  });
});
