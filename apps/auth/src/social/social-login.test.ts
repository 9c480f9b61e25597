import { decodeJwt } from "jose";
import type * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, sha256Hex } from "@altalune/core";
import { seed } from "@altalune/resources";
import { createClient, createUser, freePort, startTestAuth, TEST_ENCRYPTION_KEY, type TestAuth, type TestClient } from "../testing/auth-harness.js";
import { Browser, formsOf, type Page } from "../testing/browser.js";
import { authorizationUrl, codeFromMail, exchange, relyingParty, type AuthorizationStart } from "../testing/login-flow.js";
import { resolveAccount, type UpstreamIdentity } from "./accounts.js";
import { loginProviders } from "./login-providers.js";
import { purgeExpiredUpstreamLogins } from "./pending-logins.js";
import { insertProvider, startFakeGitHub, startUpstreamIdp, type FakeGitHub, type UpstreamAccount, type UpstreamIdp } from "./testing.js";

// Sign-in through an upstream provider, end to end: an RP (openid-client) asks OUR server for a
// code, the person picks the upstream provider, signs in at a second oidc-provider (a real
// protocol peer on its own port) or at a GitHub look-alike, comes back to our callback, consents,
// and the RP exchanges the code. Account resolution, refusals and replays are checked in the
// database.

const SLUG = "acme-idp";

interface Env {
  auth: TestAuth;
}

let main: Env;
let inactive: Env;
let idp: UpstreamIdp;
let github: FakeGitHub;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;
const unique = (label: string) => `${label}-${++seq}`;

async function startEnv(issuerPort: number, env: Record<string, string> = {}): Promise<Env> {
  const auth = await startTestAuth({ port: issuerPort, env });
  await seed(auth.sql, createLogger({ level: "silent" }), { superadminEmail: "root@example.test" });
  return { auth };
}

beforeAll(async () => {
  const [mainPort, inactivePort] = [await freePort(), await freePort()];
  idp = await startUpstreamIdp({
    redirectUris: [`http://127.0.0.1:${mainPort}/login/${SLUG}/callback`, `http://127.0.0.1:${inactivePort}/login/${SLUG}/callback`],
  });
  github = await startFakeGitHub();
  main = await startEnv(mainPort);
  inactive = await startEnv(inactivePort, { AUTO_ACTIVATE: "false" });
  for (const env of [main, inactive]) {
    await insertProvider(env.auth.sql, TEST_ENCRYPTION_KEY, {
      type: "oidc",
      slug: SLUG,
      displayName: "Acme ID",
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      scopes: ["openid", "email", "profile"],
      issuerUrl: idp.issuer,
    });
  }
  await insertProvider(main.auth.sql, TEST_ENCRYPTION_KEY, {
    type: "github",
    slug: "github",
    displayName: "GitHub",
    clientId: github.clientId,
    clientSecret: github.clientSecret,
    scopes: ["read:user", "user:email"],
    endpoints: { authorization: `${github.url}/login/oauth/authorize`, token: `${github.url}/login/oauth/access_token`, userinfo: `${github.url}/user` },
  });
  app = await createClient(main.auth.sql, { name: "Third Party App", confidential: true });
  rp = await relyingParty(main.auth.issuer, app);
}, 60_000);

afterAll(async () => {
  for (const env of [main, inactive]) {
    await env?.auth.close();
  }
  await idp?.close();
  await github?.close();
});

interface Journey {
  browser: Browser;
  uid: string;
  /** Where the upstream sent the browser back (our callback URL with code and state). */
  callback: URL;
}

/** RP → our login page → the provider's link → upstream login → back at our callback URL (not followed yet). */
async function toCallback(env: Env, start: AuthorizationStart, slug = SLUG): Promise<Journey> {
  const browser = new Browser(env.auth.issuer);
  const loginPage = await browser.navigate(start.url.href);
  expect(loginPage.status).toBe(200);
  const uid = /\/interaction\/([^/?#]+)/.exec(loginPage.url)?.[1];
  if (!uid) throw new Error(`not at an interaction: ${loginPage.url}`);
  const link = (await loginProviders(env.auth.sql, uid)).find((p) => p.id === slug);
  if (!link) throw new Error(`no ${slug} link for the login page`);
  // Once the login page lists the providers (loginProviders wired into it), click the page's own link.
  const onPage = new RegExp(`data-provider="${slug}" href="([^"]+)"`).exec(loginPage.body)?.[1];
  if (onPage !== undefined) expect(onPage).toBe(link.href);
  const toUpstream = await browser.navigate(onPage ?? link.href);
  expect(toUpstream.status).toBe(302);
  if (!toUpstream.leftTo) throw new Error(`did not leave for the provider: ${toUpstream.status}\n${toUpstream.body}`);
  const upstreamOrigin = toUpstream.leftTo.origin;
  const upstream = await new Browser(upstreamOrigin).navigate(toUpstream.leftTo.href);
  if (!upstream.leftTo) throw new Error(`the provider did not send the browser back: ${upstream.status}\n${upstream.body}`);
  expect(upstream.leftTo.origin + upstream.leftTo.pathname).toBe(`${env.auth.issuer}/login/${slug}/callback`);
  return { browser, uid, callback: upstream.leftTo };
}

/** From our callback to the RP's redirect URI, answering a consent page if one appears. */
async function finish(journey: Journey): Promise<{ end: Page & { leftTo?: URL }; consented: boolean }> {
  let page = await journey.browser.navigate(journey.callback.href);
  let consented = false;
  if (!page.leftTo && /\/consent"/.test(page.body)) {
    consented = true;
    page = await journey.browser.submit(page, /\/consent$/, { decision: "allow" });
  }
  return { end: page, consented };
}

async function signIn(env: Env, client: TestClient, clientRp: oidc.Configuration, account: UpstreamAccount) {
  idp.next = { account };
  const start = await authorizationUrl(clientRp, client, { scope: "openid email profile" });
  const journey = await toCallback(env, start);
  const { end, consented } = await finish(journey);
  if (!end.leftTo) throw new Error(`did not return to the client: ${end.status}\n${end.body}`);
  const tokens = await exchange(clientRp, start, end.leftTo);
  return { journey, tokens, consented, sub: decodeJwt(tokens.access_token).sub! };
}

const count = async (env: Env, table: "altalune_users" | "altalune_user_identities") =>
  Number((await env.auth.sql<{ n: string }[]>`select count(*)::text as n from ${env.auth.sql(table)}`)[0]!.n);

async function userState(env: Env, publicId: string) {
  const sql = env.auth.sql;
  const [user] = await sql<{ id: string; email: string; first_name: string; last_name: string; is_active: boolean; email_verified: boolean }[]>`
    select id, email, first_name, last_name, is_active, email_verified from altalune_users where public_id = ${publicId}`;
  const roles = await sql<{ name: string }[]>`
    select r.name from altalune_users_roles ur join altalune_roles r on r.id = ur.role_id where ur.user_id = ${user!.id}`;
  const memberships = await sql<{ role: string; is_default: boolean }[]>`
    select m.role, p.is_default from altalune_project_members m join altalune_projects p on p.id = m.project_id where m.user_id = ${user!.id}`;
  const identities = await sql<
    { provider: string; provider_user_id: string; email: string | null; first_name: string | null; last_name: string | null; oauth_client_id: string | null; origin_oauth_client_name: string | null; last_login_at: Date | null }[]
  >`
    select provider, provider_user_id, email, first_name, last_name, oauth_client_id, origin_oauth_client_name, last_login_at
    from altalune_user_identities where user_id = ${user!.id} order by id`;
  return { user: user!, roles: roles.map((r) => r.name), memberships, identities };
}

const account = (label: string, extra: Partial<UpstreamAccount> = {}): UpstreamAccount => ({
  sub: unique(`${label}-sub`),
  email: `${unique(label)}@upstream.example.test`,
  email_verified: true,
  given_name: "Ada",
  family_name: "Lovelace",
  ...extra,
});

describe("registration through an upstream OpenID provider", () => {
  it("registers a new user (role user, default-project member as 'user' via a third-party app) and issues our token for them", async () => {
    const person = account("newbie");
    const users = await count(main, "altalune_users");
    const { sub, consented, tokens } = await signIn(main, app, rp, person);
    expect(consented).toBe(true);
    expect(await count(main, "altalune_users")).toBe(users + 1);
    const state = await userState(main, sub);
    expect(state.user).toMatchObject({ email: person.email, first_name: "Ada", last_name: "Lovelace", is_active: true, email_verified: true });
    expect(state.roles).toEqual(["user"]);
    expect(state.memberships).toEqual([{ role: "user", is_default: true }]);
    expect(state.identities).toEqual([
      {
        provider: SLUG,
        provider_user_id: person.sub,
        email: person.email,
        first_name: "Ada",
        last_name: "Lovelace",
        oauth_client_id: app.clientId,
        origin_oauth_client_name: "Third Party App",
        last_login_at: expect.any(Date),
      },
    ]);
    // Our token speaks of our user, with the upstream's verified address.
    expect(tokens.claims()).toMatchObject({ sub, email: person.email, email_verified: true, given_name: "Ada" });
    // A third-party app that asked for no API scope gets none, whatever the user holds (issue 14).
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub, perms: [], email: person.email });
  });

  it("through the dashboard client the new user becomes a 'member' of the default project, without a consent page", async () => {
    const dashboard = await createClient(main.auth.sql, { name: "Dashboard", isDefault: true, confidential: true, allowedScopes: ["openid", "profile", "email"] });
    const dashRp = await relyingParty(main.auth.issuer, dashboard);
    const { sub, consented } = await signIn(main, dashboard, dashRp, account("dash"));
    expect(consented).toBe(false);
    const state = await userState(main, sub);
    expect(state.memberships).toEqual([{ role: "member", is_default: true }]);
    expect(state.identities[0]).toMatchObject({ oauth_client_id: dashboard.clientId, origin_oauth_client_name: "Dashboard" });
  });

  it("signs the same upstream account in again as the same user, updating the identity", async () => {
    const person = account("again");
    const first = await signIn(main, app, rp, person);
    const before = (await userState(main, first.sub)).identities[0]!.last_login_at!;
    const users = await count(main, "altalune_users");
    const second = await signIn(main, app, rp, { ...person, given_name: "Augusta", email: `renamed-${person.email}` });
    expect(second.sub).toBe(first.sub);
    expect(await count(main, "altalune_users")).toBe(users);
    const state = await userState(main, first.sub);
    expect(state.identities).toHaveLength(1);
    expect(state.identities[0]).toMatchObject({ first_name: "Augusta", email: `renamed-${person.email}` });
    expect(state.identities[0]!.last_login_at!.getTime()).toBeGreaterThanOrEqual(before.getTime());
    // The user's own profile is not overwritten by the upstream.
    expect(state.user).toMatchObject({ first_name: "Ada", email: person.email });
  });

  it("a GitHub account (OAuth 2.0 + PKCE, user and verified-emails API) registers with its primary verified address", async () => {
    const email = `${unique("octo")}@github.example.test`;
    github.next = {
      id: 9000 + seq,
      login: "octo",
      name: "Mona Lisa Octocat",
      emails: [
        { email: `unverified-${email}`, primary: false, verified: false },
        { email, primary: true, verified: true },
      ],
    };
    const start = await authorizationUrl(rp, app, { scope: "openid email profile" });
    const journey = await toCallback(main, start, "github");
    const { end } = await finish(journey);
    const tokens = await exchange(rp, start, end.leftTo!);
    const sub = decodeJwt(tokens.access_token).sub!;
    const state = await userState(main, sub);
    expect(state.user).toMatchObject({ email, first_name: "Mona", last_name: "Lisa Octocat", email_verified: true });
    expect(state.identities[0]).toMatchObject({ provider: "github", provider_user_id: String(github.next.id) });
  });
});

describe("an existing account's address (no takeover; linking only by the account itself)", () => {
  const identityRows = (sub: string) =>
    main.auth.sql<{ user_id: string; linked_by: string }[]>`select user_id::text, linked_by from altalune_user_identities where provider_user_id = ${sub}`;

  /** Another oidc provider's login lands on the link offer; returns the browser holding it. */
  async function offered(person: UpstreamAccount): Promise<{ browser: Browser; page: Page & { leftTo?: URL } }> {
    idp.next = { account: person };
    const journey = await toCallback(main, await authorizationUrl(rp, app));
    const page = await journey.browser.navigate(journey.callback.href);
    return { browser: journey.browser, page };
  }

  it("a provider asserting the superadmin's verified address does not sign in as the superadmin and links nothing", async () => {
    const [root] = await main.auth.sql<{ id: string; public_id: string }[]>`select id::text, public_id from altalune_users where email = 'root@example.test'`;
    const person = account("evil-root", { email: "ROOT@example.test", email_verified: true });
    const [users, identities] = [await count(main, "altalune_users"), await count(main, "altalune_user_identities")];
    const { browser, page } = await offered(person);
    // No code went back to the client, no login session exists, nothing was written to the user.
    expect(page.leftTo).toBeUndefined();
    expect(page.status).toBe(200);
    expect(page.body).toContain("An account with this address exists");
    expect(page.body).toContain("Sign in with your email code to link Acme ID");
    expect(await main.auth.sql`select 1 from altalune_oidc_models where model = 'Session' and account_id = ${root!.public_id}`).toHaveLength(0);
    expect(await identityRows(person.sub)).toHaveLength(0);
    expect(await count(main, "altalune_users")).toBe(users);
    expect(await count(main, "altalune_user_identities")).toBe(identities);
    // The offer leads to a sign-in, which the IdP's claim alone cannot complete.
    const next = await browser.navigate("/account/link/confirm");
    expect(next.body).toMatch(/\/login"/);
    expect(await identityRows(person.sub)).toHaveLength(0);
  });

  it("in the same flow: an email-code sign-in of that account in the same browser, then confirming, links it (email_login); later social logins sign in", async () => {
    const existing = await createUser(main.auth.sql, { email: `${unique("linda")}@example.test`, firstName: "Linda" });
    const person = account("linda", { email: existing.email.toUpperCase() });
    const { browser, page } = await offered(person);
    expect(page.body).toContain('href="/account/link/confirm"');
    // The email code, in this browser.
    const login = await browser.navigate("/account/link/confirm");
    const codePage = await browser.submit(login, /\/login$/, { email: existing.email });
    const confirm = await browser.submit(codePage, /\/code$/, { code: await codeFromMail(main.auth.smtp, existing.email) });
    expect(new URL(confirm.url).pathname).toBe("/account/link/confirm");
    expect(confirm.body).toContain("Link Acme ID?");
    expect(confirm.body).toContain(existing.email);
    expect(await identityRows(person.sub)).toHaveLength(0);
    const done = await browser.submit(confirm, "/account/link/confirm", { decision: "link" });
    expect(new URL(done.url).pathname).toBe("/account");
    expect(done.body).toContain("Sign-in method linked");
    expect(await identityRows(person.sub)).toEqual([{ user_id: existing.id, linked_by: "email_login" }]);
    // The offer is used up.
    expect((await browser.navigate("/account/link/confirm")).body).toContain("Link expired");

    const again = await signIn(main, app, rp, person);
    expect(again.sub).toBe(existing.publicId);
    // The user's name is theirs.
    expect((await userState(main, existing.publicId)).user.first_name).toBe("Linda");
  });

  it("an offer cannot be confirmed by another account, and cancelling links nothing", async () => {
    const owner = await createUser(main.auth.sql, { email: `${unique("owner")}@example.test` });
    const other = await createUser(main.auth.sql, { email: `${unique("other")}@example.test` });
    const person = account("owner", { email: owner.email });
    const { browser } = await offered(person);
    const login = await browser.navigate("/account/link/confirm");
    const codePage = await browser.submit(login, /\/login$/, { email: other.email });
    const refused = await browser.submit(codePage, /\/code$/, { code: await codeFromMail(main.auth.smtp, other.email) });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("offered for another account");
    expect(await identityRows(person.sub)).toHaveLength(0);

    // The owner, in a browser of their own with a fresh offer, says no.
    const second = await offered(person);
    const login2 = await second.browser.navigate("/account/link/confirm");
    const code2 = await second.browser.submit(login2, /\/login$/, { email: owner.email });
    const confirm = await second.browser.submit(code2, /\/code$/, { code: await codeFromMail(main.auth.smtp, owner.email) });
    const cancelled = await second.browser.submit(confirm, "/account/link/confirm", { decision: "cancel" });
    expect(cancelled.body).toContain("Nothing was linked");
    expect(await identityRows(person.sub)).toHaveLength(0);
  });

  /** An existing user signed in to the account page in a new browser (email code). */
  async function accountPageOf(email: string): Promise<{ browser: Browser; page: Page }> {
    const browser = new Browser(main.auth.issuer);
    const login = await browser.navigate("/account");
    const codePage = await browser.submit(login, /\/login$/, { email });
    const page = await browser.submit(codePage, /\/code$/, { code: await codeFromMail(main.auth.smtp, email) });
    expect(new URL(page.url).pathname).toBe("/account");
    return { browser, page };
  }

  /** Posts the account page's "Link <provider>" form; returns where the browser was sent upstream. */
  async function startLink(browser: Browser, page: Page, slug: string): Promise<URL> {
    const form = formsOf(page.body).find((f) => f.action === "/account/identities/link" && f.fields["provider"] === slug);
    if (!form) throw new Error(`no link form for ${slug}:\n${page.body}`);
    const res = await browser.navigate(form.action, { method: "POST", form: form.fields });
    if (!res.leftTo) throw new Error(`not sent to the provider: ${res.status}\n${res.body}`);
    const upstream = await new Browser(res.leftTo.origin).navigate(res.leftTo.href);
    if (!upstream.leftTo) throw new Error(`the provider did not send the browser back: ${upstream.status}`);
    return upstream.leftTo;
  }

  it("from the account page: 'Link Acme ID' links the returned identity to the signed-in user (account_page); later social logins sign in", async () => {
    const existing = await createUser(main.auth.sql, { email: `${unique("acct")}@example.test` });
    // Any address at the upstream: the signed-in account is the proof, not the address.
    const person = account("acct-upstream");
    const { browser, page } = await accountPageOf(existing.email);
    expect(page.body).toContain("Link Acme ID");
    idp.next = { account: person };
    const callback = await startLink(browser, page, SLUG);
    expect(callback.pathname).toBe(`/login/${SLUG}/callback`);

    // Opened in another browser (or any other session), the answer is refused and not used up.
    const foreign = await new Browser(main.auth.issuer).navigate(callback.href);
    expect(foreign.status).toBe(400);
    expect(foreign.body).toContain("Link could not be verified");

    const done = await browser.navigate(callback.href);
    expect(new URL(done.url).pathname).toBe("/account");
    expect(done.body).toContain("Sign-in method linked");
    expect(done.body).toContain(`data-identity="Acme ID"`);
    expect(await identityRows(person.sub)).toEqual([{ user_id: existing.id, linked_by: "account_page" }]);

    const again = await signIn(main, app, rp, person);
    expect(again.sub).toBe(existing.publicId);
  });

  it("an upstream account linked to one user cannot be linked to another from the account page", async () => {
    const first = await signIn(main, app, rp, account("taken"));
    const person = (await main.auth.sql<{ provider_user_id: string; email: string }[]>`
      select i.provider_user_id, i.email from altalune_user_identities i join altalune_users u on u.id = i.user_id where u.public_id = ${first.sub}`)[0]!;
    const other = await createUser(main.auth.sql, { email: `${unique("thief")}@example.test` });
    const { browser, page } = await accountPageOf(other.email);
    idp.next = { account: { sub: person.provider_user_id, email: person.email, email_verified: true } };
    const callback = await startLink(browser, page, SLUG);
    const refused = await browser.navigate(callback.href);
    expect(refused.status).toBe(409);
    expect(refused.body).toContain("already linked to another account");
    expect(await main.auth.sql`select 1 from altalune_user_identities i join altalune_users u on u.id = i.user_id where u.id = ${other.id}`).toHaveLength(0);
  });

  it("refuses to link on an address the upstream has not verified (no identity, no user, clear page)", async () => {
    const existing = await createUser(main.auth.sql, { email: `${unique("victim")}@example.test` });
    const person = account("attacker", { email: existing.email, email_verified: false });
    idp.next = { account: person };
    const [users, identities] = [await count(main, "altalune_users"), await count(main, "altalune_user_identities")];
    const journey = await toCallback(main, await authorizationUrl(rp, app));
    const page = await journey.browser.navigate(journey.callback.href);
    expect(page.status).toBe(400);
    expect(page.leftTo).toBeUndefined();
    expect(page.body).toContain("Email address not verified");
    expect(page.body).toContain("has not verified");
    expect(await count(main, "altalune_users")).toBe(users);
    expect(await count(main, "altalune_user_identities")).toBe(identities);
    expect(await main.auth.sql`select 1 from altalune_user_identities where provider_user_id = ${person.sub}`).toHaveLength(0);
  });

  it("a GitHub address that is only public (not in the verified e-mails) is not linked to an existing user", async () => {
    const existing = await createUser(main.auth.sql, { email: `${unique("gh-victim")}@example.test` });
    github.next = { id: 7000 + seq, login: "mallory", name: null, publicEmail: existing.email, emails: [{ email: existing.email, primary: true, verified: false }] };
    const identities = await count(main, "altalune_user_identities");
    const journey = await toCallback(main, await authorizationUrl(rp, app), "github");
    const page = await journey.browser.navigate(journey.callback.href);
    expect(page.status).toBe(400);
    expect(page.body).toContain("Email address not verified");
    expect(await count(main, "altalune_user_identities")).toBe(identities);
  });

  it("does not register a new user on an address the upstream has not verified (no pre-created account)", async () => {
    const email = `${unique("future-owner")}@example.test`;
    const person = account("squatter", { email, email_verified: false });
    idp.next = { account: person };
    const [users, identities] = [await count(main, "altalune_users"), await count(main, "altalune_user_identities")];
    const journey = await toCallback(main, await authorizationUrl(rp, app));
    const page = await journey.browser.navigate(journey.callback.href);
    expect(page.status).toBe(400);
    expect(page.body).toContain("Email address not verified");
    expect(await count(main, "altalune_users")).toBe(users);
    expect(await count(main, "altalune_user_identities")).toBe(identities);
    expect(await main.auth.sql`select 1 from altalune_users where email = ${email}`).toHaveLength(0);
  });
});

describe("refusals on the way back", () => {
  it("a tampered state is refused (state mismatch) and consumes nothing; the genuine callback still works", async () => {
    idp.next = { account: account("tamper") };
    const start = await authorizationUrl(rp, app);
    const journey = await toCallback(main, start);
    const users = await count(main, "altalune_users");
    const tampered = new URL(journey.callback);
    tampered.searchParams.set("state", `${tampered.searchParams.get("state")}x`);
    const refused = await journey.browser.navigate(tampered.href);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain("state mismatch");
    expect(await count(main, "altalune_users")).toBe(users);

    const { end } = await finish(journey);
    expect((await exchange(rp, start, end.leftTo!)).access_token).toEqual(expect.any(String));
  });

  it("a callback opened in another browser (no interaction cookie) is refused before anything is consumed", async () => {
    idp.next = { account: account("csrf") };
    const start = await authorizationUrl(rp, app);
    const journey = await toCallback(main, start);
    const users = await count(main, "altalune_users");
    const other = await new Browser(main.auth.issuer).navigate(journey.callback.href);
    expect(other.status).toBe(400);
    expect(other.leftTo).toBeUndefined();
    expect(other.body).toContain("state mismatch");
    expect(await count(main, "altalune_users")).toBe(users);
    const { end } = await finish(journey);
    expect(end.leftTo?.searchParams.get("code")).toEqual(expect.any(String));
  });

  it("a replayed callback is refused and creates nothing", async () => {
    const { journey, sub } = await signIn(main, app, rp, account("replay"));
    const users = await count(main, "altalune_users");
    const again = await journey.browser.navigate(journey.callback.href);
    expect(again.status).toBe(400);
    expect(again.leftTo).toBeUndefined();
    expect(again.body).toContain("already used");
    expect(await count(main, "altalune_users")).toBe(users);
    expect((await userState(main, sub)).identities).toHaveLength(1);
  });

  it("an expired state is refused with a way back to the sign-in page", async () => {
    idp.next = { account: account("slow") };
    const journey = await toCallback(main, await authorizationUrl(rp, app));
    const stateHash = sha256Hex(journey.callback.searchParams.get("state")!);
    await main.auth.sql`update altalune_upstream_logins set expires_at = CURRENT_TIMESTAMP - interval '1 second' where state_hash = ${stateHash}`;
    const page = await journey.browser.navigate(journey.callback.href);
    expect(page.status).toBe(400);
    expect(page.body).toContain("took too long");
    expect(page.body).toContain(`href="/interaction/${journey.uid}"`);
  });

  it("access_denied at the upstream ends on a 'cancelled' page linking back to the login page; nothing is created", async () => {
    idp.next = { deny: true };
    const users = await count(main, "altalune_users");
    const journey = await toCallback(main, await authorizationUrl(rp, app));
    expect(journey.callback.searchParams.get("error")).toBe("access_denied");
    const page = await journey.browser.navigate(journey.callback.href);
    expect(page.status).toBe(400);
    expect(page.body).toContain("Sign-in cancelled");
    expect(page.body).toContain(`href="/interaction/${journey.uid}"`);
    expect(await count(main, "altalune_users")).toBe(users);
    // The way back leads to the login page of the same interaction.
    const back = await journey.browser.navigate(`/interaction/${journey.uid}`);
    expect(back.status).toBe(200);
    expect(back.body).toMatch(/\/login"/);
  });

  it("a disabled or unknown provider cannot start a sign-in", async () => {
    await insertProvider(main.auth.sql, TEST_ENCRYPTION_KEY, {
      type: "oidc",
      slug: "sleeping",
      displayName: "Sleeping",
      clientId: "x",
      clientSecret: "y",
      scopes: ["openid"],
      issuerUrl: idp.issuer,
      enabled: false,
    });
    const browser = new Browser(main.auth.issuer);
    const loginPage = await browser.navigate((await authorizationUrl(rp, app)).url.href);
    const uid = /\/interaction\/([^/?#]+)/.exec(loginPage.url)![1]!;
    expect((await loginProviders(main.auth.sql, uid)).map((p) => p.id)).toEqual(["github", SLUG]);
    for (const slug of ["sleeping", "nope", "system"]) {
      const page = await browser.navigate(`/interaction/${uid}/upstream/${slug}`);
      expect(page.status).toBe(400);
      expect(page.body).toContain("does not exist or is turned off");
    }
    // And another browser cannot start one for this interaction.
    expect((await new Browser(main.auth.issuer).navigate(`/interaction/${uid}/upstream/${SLUG}`)).status).toBe(400);
  });

  it("an unreachable provider ends on a 502 page at the start", async () => {
    const port = await freePort();
    await insertProvider(main.auth.sql, TEST_ENCRYPTION_KEY, {
      type: "oidc",
      slug: "gone",
      displayName: "Gone",
      clientId: "x",
      clientSecret: "y",
      scopes: ["openid"],
      issuerUrl: `http://127.0.0.1:${port}`,
    });
    const browser = new Browser(main.auth.issuer);
    const loginPage = await browser.navigate((await authorizationUrl(rp, app)).url.href);
    const uid = /\/interaction\/([^/?#]+)/.exec(loginPage.url)![1]!;
    const page = await browser.navigate(`/interaction/${uid}/upstream/gone`);
    expect(page.status).toBe(502);
    expect(page.body).toContain("could not be reached");
  });
});

describe("inactive users (AUTO_ACTIVATE=false)", () => {
  it("a new user is registered inactive and lands on the pending-activation page, without a code for the client", async () => {
    const client = await createClient(inactive.auth.sql, { name: "Some App" });
    const clientRp = await relyingParty(inactive.auth.issuer, client);
    const person = account("pending");
    idp.next = { account: person };
    const journey = await toCallback(inactive, await authorizationUrl(clientRp, client));
    const page = await journey.browser.navigate(journey.callback.href);
    expect(page.leftTo).toBeUndefined();
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${inactive.auth.issuer}/interaction/${journey.uid}`);
    expect(page.body).toContain("pending activation");
    expect(page.body).toContain(person.email!);
    const [user] = await inactive.auth.sql<{ is_active: boolean }[]>`select is_active from altalune_users where email = ${person.email!}`;
    expect(user?.is_active).toBe(false);
  });
});

describe("stored state", () => {
  it("keeps the state and the interaction uid hashed, the PKCE verifier and the uid sealed; purge removes old rows only", async () => {
    idp.next = { account: account("stored") };
    const journey = await toCallback(main, await authorizationUrl(rp, app));
    const state = journey.callback.searchParams.get("state")!;
    const rows = await main.auth.sql<{ state_hash: string; code_verifier_sealed: string; interaction_uid_hash: string; interaction_uid_sealed: string }[]>`
      select state_hash, code_verifier_sealed, interaction_uid_hash, interaction_uid_sealed from altalune_upstream_logins
      where state_hash = ${sha256Hex(state)}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.interaction_uid_hash).toBe(sha256Hex(journey.uid));
    expect(rows[0]!.interaction_uid_sealed).toMatch(/^v1\./);
    expect(rows[0]!.code_verifier_sealed).toMatch(/^v1\./);
    const dump = JSON.stringify(await main.auth.sql`select * from altalune_upstream_logins`);
    expect(dump).not.toContain(state);
    expect(dump).not.toContain(journey.uid);

    await main.auth.sql`update altalune_upstream_logins set expires_at = CURRENT_TIMESTAMP - interval '2 days' where state_hash = ${sha256Hex(state)}`;
    expect(await purgeExpiredUpstreamLogins(main.auth.sql)).toBeGreaterThanOrEqual(1);
    expect(await main.auth.sql`select 1 from altalune_upstream_logins where state_hash = ${sha256Hex(state)}`).toHaveLength(0);
    expect(Number((await main.auth.sql<{ n: string }[]>`select count(*)::text as n from altalune_upstream_logins`)[0]!.n)).toBeGreaterThan(0);
  });
});

describe("account resolution under concurrency", () => {
  it("simultaneous first sign-ins of one upstream account create one user and one identity", async () => {
    const identity: UpstreamIdentity = {
      provider: SLUG,
      providerUserId: unique("race"),
      email: `${unique("race")}@example.test`,
      emailVerified: true,
      firstName: "Race",
      lastName: "Condition",
      avatarUrl: undefined,
    };
    const context = { clientId: app.clientId, clientName: "Third Party App", dashboard: false, autoActivate: true };
    const results = await Promise.all(Array.from({ length: 6 }, () => resolveAccount(main.auth.sql, identity, context)));
    const ids = new Set(results.map((r) => ("user" in r ? r.user.publicId : r.outcome)));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.outcome === "registered")).toHaveLength(1);
    expect(await main.auth.sql`select 1 from altalune_users where email = ${identity.email!}`).toHaveLength(1);
    expect(await main.auth.sql`select 1 from altalune_user_identities where provider_user_id = ${identity.providerUserId}`).toHaveLength(1);
  });

  it("an upstream account without an email address is refused", async () => {
    const result = await resolveAccount(
      main.auth.sql,
      { provider: SLUG, providerUserId: unique("nomail"), email: undefined, emailVerified: false, firstName: "", lastName: "", avatarUrl: undefined },
      { clientId: undefined, clientName: undefined, dashboard: false, autoActivate: true },
    );
    expect(result).toEqual({ outcome: "refused", reason: "no_email" });
  });
});
