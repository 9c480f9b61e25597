import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { readFileSync } from "node:fs";
import { newPublicId, randomSecret, sealSecret, sha256Hex } from "@altalune/core";
import { parseMigration } from "@altalune/db";
import { oauthClientSecretContext } from "@altalune/oauth-tables";
import { storedIdKey } from "./provider/derived-secrets.js";
import { StoredIdSealer } from "./provider/stored-ids.js";
import { createClient, createUser, startTestAuth, TEST_ENCRYPTION_KEY, type TestAuth, type TestClient } from "./testing/auth-harness.js";
import { Browser } from "./testing/browser.js";
import { authorizationUrl, browserLogin, codeFromMail, exchange, relyingParty } from "./testing/login-flow.js";

// What happens to tokens after the login: refresh rotation and its reuse leeway, reuse
// detection, introspection, revocation, code reuse, users who stop being active, logout.

let auth: TestAuth;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;
/** Listed in INTROSPECTION_CLIENT_IDS (upper case: the variable is case-insensitive). */
const INTROSPECTOR_ID = "3a7c9e10-2b4d-4f6a-8c1e-5d7f9a0b2c4e";
/** oidc-provider prints a NOTICE when a default policy it wants replaced is used. */
let consoleInfo: MockInstance<typeof console.info>;

beforeAll(async () => {
  consoleInfo = vi.spyOn(console, "info");
  auth = await startTestAuth({
    env: { INTROSPECTION_CLIENT_IDS: ` ${INTROSPECTOR_ID.toUpperCase()} ,` },
    // Every login of this file comes from 127.0.0.1: more than the per-IP code limit allows.
    server: { loginCodeLimits: { perIp: { limit: 1_000, windowSeconds: 900 } } },
  });
  app = await createClient(auth.sql, {
    name: "Tokens App",
    confidential: true,
    postLogoutRedirectUris: ["https://app.example.test/bye"],
    allowedScopes: ["openid", "profile", "email", "offline_access", "project:read", "employee:write"],
  });
  rp = await relyingParty(auth.issuer, app);
});

afterAll(async () => {
  consoleInfo?.mockRestore();
  await auth?.close();
});

async function login(scope = "openid profile email offline_access project:read employee:write", browser = new Browser(auth.issuer), client = app, party = rp) {
  const user = await createUser(auth.sql, { email: `user-${++seq}@example.test`, firstName: "Tok", permissions: ["project:read"] });
  const start = await authorizationUrl(party, client, { scope, prompt: "consent" });
  const { callback } = await browserLogin(browser, auth.smtp, start, user.email);
  const tokens = await exchange(party, start, callback);
  return { user, tokens, callback, start, browser };
}

async function tokenRequest(form: Record<string, string>, client: TestClient = app): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${auth.issuer}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`,
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const refresh = (token: string) => tokenRequest({ grant_type: "refresh_token", refresh_token: token });

/** Moves a refresh token's consumption back in time, past the reuse leeway. */
async function ageConsumption(token: string, seconds: number): Promise<void> {
  await auth.sql`
    update altalune_oidc_models set consumed_at = consumed_at - make_interval(secs => ${seconds})
    where model = 'RefreshToken' and id = ${sha256Hex(token)}`;
}

describe("refresh tokens", () => {
  it("rotate on every use and carry the permissions (within the consented scopes) and memberships of the moment", async () => {
    const { user, tokens } = await login();
    expect(decodeJwt(tokens.access_token)["perms"]).toEqual(["project:read"]);
    await auth.sql`
      with p as (insert into altalune_permissions (public_id, name) values ('permnew0000001', 'employee:write') returning id)
      insert into altalune_users_permissions (user_id, permission_id) select ${user.id}, id from p`;
    const [proj] = await auth.sql<{ id: string; public_id: string }[]>`
      insert into altalune_projects (public_id, name, timezone) values ('projrefresh001', 'Refreshed', 'UTC') returning id, public_id`;
    await auth.sql`insert into altalune_project_members (project_id, user_id, role) values (${proj!.id}, ${user.id}, 'admin')`;

    const next = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(next.refresh_token).toEqual(expect.any(String));
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    const claims = decodeJwt(next.access_token);
    expect(claims).toMatchObject({ sub: user.publicId, perms: ["employee:write", "project:read"], memberships: { [proj!.public_id]: "admin" } });
    // The new refresh token works too.
    expect((await refresh(next.refresh_token!)).status).toBe(200);
  });

  it("a rotated token works once more within the leeway, then reuse revokes the whole grant", async () => {
    const { tokens } = await login();
    const first = await refresh(tokens.refresh_token!);
    expect(first.status).toBe(200);
    // A second tab presents the same (already rotated) token at once: accepted.
    const concurrent = await refresh(tokens.refresh_token!);
    expect(concurrent.status).toBe(200);
    // A third time is reuse: refused, and every token of the grant is gone.
    const third = await refresh(tokens.refresh_token!);
    expect(third).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect((await refresh(String(first.body["refresh_token"]))).body).toMatchObject({ error: "invalid_grant" });
    expect((await refresh(String(concurrent.body["refresh_token"]))).body).toMatchObject({ error: "invalid_grant" });
  });

  it("concurrent presentations of one refresh token: at most two win (the use and its leeway), the rest get invalid_grant", async () => {
    const { tokens } = await login();
    const results = await Promise.all(Array.from({ length: 6 }, () => refresh(tokens.refresh_token!)));
    const won = results.filter((r) => r.status === 200);
    expect(won.length).toBeGreaterThanOrEqual(1);
    expect(won.length).toBeLessThanOrEqual(2);
    for (const lost of results.filter((r) => r.status !== 200)) expect(lost).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("reuse after the leeway revokes the grant", async () => {
    const { tokens } = await login();
    const rotated = await refresh(tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    await ageConsumption(tokens.refresh_token!, 10);
    const reuse = await refresh(tokens.refresh_token!);
    expect(reuse).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: "grant request is invalid" } });
    expect((await refresh(String(rotated.body["refresh_token"]))).body).toMatchObject({ error: "invalid_grant" });
  });

  it("is refused with invalid_grant when the user is deactivated or deleted", async () => {
    const a = await login();
    await auth.sql`update altalune_users set is_active = false where id = ${a.user.id}`;
    expect(await refresh(a.tokens.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    const b = await login();
    await auth.sql`delete from altalune_users where id = ${b.user.id}`;
    expect(await refresh(b.tokens.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("is not issued without offline_access to a third-party client", async () => {
    const { tokens } = await login("openid email");
    expect(tokens.refresh_token).toBeUndefined();
  });

  it("belongs to its client", async () => {
    const { tokens } = await login();
    const other = await createClient(auth.sql, { confidential: true });
    expect(await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token! }, other)).toMatchObject({
      status: 400,
      body: { error: "invalid_grant" },
    });
  });
});

describe("authorization codes", () => {
  it("work once; a reused code revokes the tokens issued from it", async () => {
    const user = await createUser(auth.sql, { email: `reuse-${++seq}@example.test` });
    const start = await authorizationUrl(rp, app, { scope: "openid offline_access", prompt: "consent" });
    const { callback } = await browserLogin(new Browser(auth.issuer), auth.smtp, start, user.email);
    const tokens = await exchange(rp, start, callback);
    const code = callback.searchParams.get("code")!;
    const again = await tokenRequest({ grant_type: "authorization_code", code, redirect_uri: app.redirectUri, code_verifier: start.verifier });
    expect(again).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect((await refresh(tokens.refresh_token!)).body).toMatchObject({ error: "invalid_grant" });
  });

  it("redeemed concurrently: one wins, and the replay revokes what it got", async () => {
    const user = await createUser(auth.sql, { email: `race-${++seq}@example.test` });
    const start = await authorizationUrl(rp, app, { scope: "openid offline_access", prompt: "consent" });
    const { callback } = await browserLogin(new Browser(auth.issuer), auth.smtp, start, user.email);
    const form = { grant_type: "authorization_code", code: callback.searchParams.get("code")!, redirect_uri: app.redirectUri, code_verifier: start.verifier };
    const results = await Promise.all(Array.from({ length: 5 }, () => tokenRequest(form)));
    const won = results.filter((r) => r.status === 200);
    expect(won.length).toBeLessThanOrEqual(1);
    for (const lost of results.filter((r) => r.status !== 200)) expect(lost.body).toMatchObject({ error: "invalid_grant" });
    // The code was presented more than once: nothing issued from it keeps working.
    for (const w of won) expect((await refresh(String(w.body["refresh_token"]))).body).toMatchObject({ error: "invalid_grant" });
  });

  it("need the right verifier and redirect URI", async () => {
    const user = await createUser(auth.sql, { email: `verifier-${++seq}@example.test` });
    const start = await authorizationUrl(rp, app, { scope: "openid" });
    const { callback } = await browserLogin(new Browser(auth.issuer), auth.smtp, start, user.email);
    const code = callback.searchParams.get("code")!;
    const wrongVerifier = await tokenRequest({ grant_type: "authorization_code", code, redirect_uri: app.redirectUri, code_verifier: "x".repeat(43) });
    expect(wrongVerifier).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });
});

describe("introspection and revocation", () => {
  const call = (path: string, form: Record<string, string>, client: TestClient | null = app) =>
    fetch(`${auth.issuer}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(client ? { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}` } : {}),
      },
      body: new URLSearchParams(form).toString(),
    });

  it("introspects refresh tokens for an authenticated client; refuses anonymous callers", async () => {
    const { user, tokens } = await login();
    const info = await oidc.tokenIntrospection(rp, tokens.refresh_token!);
    expect(info).toMatchObject({ active: true, client_id: app.clientId, sub: user.publicId, iss: auth.issuer });
    expect(String(info.scope).split(" ")).toContain("offline_access");
    const anonymous = await call("/oauth/introspect", { token: tokens.refresh_token! }, null);
    expect(anonymous.status).toBe(400);
    expect(((await anonymous.json()) as { error: string }).error).toBe("invalid_request");
    const badSecret = await call("/oauth/introspect", { token: tokens.refresh_token! }, { ...app, clientSecret: "wrong" });
    expect(badSecret.status).toBe(401);
    expect(((await badSecret.json()) as { error: string }).error).toBe("invalid_client");
    const unknown = await oidc.tokenIntrospection(rp, "not-a-token");
    expect(unknown).toEqual({ active: false });
    // JWT access tokens are self-contained: verified with the JWKS, not introspected.
    const jwt = await call("/oauth/introspect", { token: tokens.access_token });
    expect(jwt.status).toBe(400);
    expect(((await jwt.json()) as { error: string }).error).toBe("unsupported_token_type");
  });

  // Issue 11: oidc-provider's default lets any confidential client introspect every client's
  // tokens (subject, scopes, session id).
  it("a client introspects only its own tokens, unless it is listed in INTROSPECTION_CLIENT_IDS", async () => {
    const other = await createClient(auth.sql, { name: "Other App", confidential: true });
    const theirs = await login("openid offline_access", new Browser(auth.issuer), other, await relyingParty(auth.issuer, other));
    const mine = await login("openid offline_access");
    const introspect = async (token: string, client: TestClient) => {
      const res = await call("/oauth/introspect", { token }, client);
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    expect(await introspect(mine.tokens.refresh_token!, app)).toMatchObject({ active: true, client_id: app.clientId, sub: mine.user.publicId });
    expect(await introspect(theirs.tokens.refresh_token!, app)).toEqual({ active: false });
    expect(await introspect(theirs.tokens.refresh_token!, other)).toMatchObject({ active: true, client_id: other.clientId });

    const introspector = await clientWithId(INTROSPECTOR_ID);
    expect(await introspect(theirs.tokens.refresh_token!, introspector)).toMatchObject({
      active: true,
      client_id: other.clientId,
      sub: theirs.user.publicId,
    });
    expect(await introspect(mine.tokens.refresh_token!, introspector)).toMatchObject({ active: true, client_id: app.clientId });

    // Revocation was already per client; it stays so (and is now stated in the configuration).
    const revoke = await call("/oauth/revoke", { token: theirs.tokens.refresh_token! }, app);
    expect(revoke.status).toBe(400);
    expect(await introspect(theirs.tokens.refresh_token!, other)).toMatchObject({ active: true });
    // Neither default policy ran, so oidc-provider has nothing to warn about.
    expect(consoleInfo.mock.calls.flat().filter((m) => String(m).includes("allowedPolicy"))).toEqual([]);
  });

  it("revoking a refresh token ends its grant", async () => {
    const { tokens } = await login();
    const rotated = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    await oidc.tokenRevocation(rp, rotated.refresh_token!);
    expect((await oidc.tokenIntrospection(rp, rotated.refresh_token!)).active).toBe(false);
    expect(await refresh(rotated.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect((await call("/oauth/revoke", { token: "whatever" }, null)).status).toBe(400);
    expect((await call("/oauth/revoke", { token: "whatever" }, { ...app, clientSecret: "wrong" })).status).toBe(401);
    const rows = await auth.sql`select 1 from altalune_oidc_models where model in ('RefreshToken', 'Grant') and account_id = ${decodeJwt(tokens.access_token).sub!}`;
    expect(rows).toHaveLength(0);
  });

  it("userinfo refuses an invalid token and an inactive user", async () => {
    const { user, tokens } = await login("openid email");
    const res = await fetch(`${auth.issuer}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token.slice(0, -4)}AAAA` } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, user.publicId)).toEqual({ sub: user.publicId, email: user.email, email_verified: true });
    await auth.sql`update altalune_users set is_active = false where id = ${user.id}`;
    const inactive = await fetch(`${auth.issuer}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(inactive.status).toBe(401);
  });
});

describe("logout", () => {
  it("asks for confirmation, ends the session and returns to the registered URI", async () => {
    const { tokens, browser } = await login("openid");
    const url = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: "https://app.example.test/bye", state: "st" });
    const confirm = await browser.navigate(url.href);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain("Sign out?");
    const done = await browser.submit(confirm, /end_session\/confirm$/, { logout: "yes" });
    expect(done.leftTo?.href).toBe("https://app.example.test/bye?state=st");
    // The session is gone: a new authorization asks for the email again.
    const again = await browser.navigate((await authorizationUrl(rp, app)).url.href);
    expect(again.body).toContain("Email me a sign-in code");
  });

  it("refuses an unregistered post-logout redirect URI", async () => {
    const { tokens, browser } = await login("openid");
    const url = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: "https://evil.example/bye" });
    const page = await browser.navigate(url.href);
    expect(page.status).toBe(400);
    expect(page.leftTo).toBeUndefined();
  });
});

/** A confidential client with a given client id (INTROSPECTION_CLIENT_IDS is read at start-up). */
async function clientWithId(clientId: string): Promise<TestClient> {
  const clientSecret = randomSecret(32);
  await auth.sql`
    insert into altalune_oauth_clients
      (public_id, name, client_id, client_secret_sealed, redirect_uris, allowed_scopes, pkce_required, is_default, confidential)
    values (${newPublicId()}, 'Introspector', ${clientId}, ${sealSecret(TEST_ENCRYPTION_KEY, clientSecret, oauthClientSecretContext(clientId))},
            ${["https://introspector.example.test/cb"]}, ${["openid"]}, true, false, true)
    on conflict (client_id) do nothing`;
  return { clientId, clientSecret, redirectUri: "https://introspector.example.test/cb" };
}

// Issue 11: a dump of altalune_oidc_models must not pair a row with the raw ids oidc-provider
// keeps inside payloads (interaction uid in the resume URL, session uid, grant ids).
describe("storage holds no raw interaction, session or grant id", () => {
  interface StoredRow {
    model: string;
    id: string;
    uid: string | null;
    grant_id: string | null;
    payload: Record<string, unknown>;
    text: string;
  }
  const rowsOf = (accountId: string) =>
    auth.sql<StoredRow[]>`
      select model, id, uid, grant_id, payload, t::text as text from altalune_oidc_models t
      where account_id = ${accountId} or payload::text like ${`%${accountId}%`}`;
  const interactionUids = (page: { url: string }, into: Set<string>) => {
    const uid = /\/interaction\/([^/?#]+)/.exec(new URL(page.url).pathname)?.[1];
    if (uid !== undefined) into.add(uid);
  };

  it("after a full login (interactions, session, grant, code, refresh tokens), no stored row contains one", async () => {
    const user = await createUser(auth.sql, { email: `dump-${++seq}@example.test` });
    const browser = new Browser(auth.issuer);
    const uids = new Set<string>();
    const start = await authorizationUrl(rp, app, { scope: "openid email offline_access", prompt: "consent" });
    let page = await browser.navigate(start.url.href);
    interactionUids(page, uids);
    page = await browser.submit(page, /\/login$/, { email: user.email });
    page = await browser.submit(page, /\/code$/, { code: await codeFromMail(auth.smtp, user.email) });
    interactionUids(page, uids);
    page = await browser.submit(page, /\/consent$/, { decision: "allow" });
    const tokens = await exchange(rp, start, page.leftTo!);
    const rotated = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    // A second authorization left at its consent page: an Interaction of a signed-in browser,
    // with its session and existing grant.
    const again = await browser.navigate((await authorizationUrl(rp, app, { scope: "openid email offline_access", prompt: "consent" })).url.href);
    expect(again.body).toContain("/consent");
    interactionUids(again, uids);
    expect(uids.size).toBeGreaterThanOrEqual(2);

    const rows = await rowsOf(user.publicId);
    const models = new Set(rows.map((r) => r.model));
    for (const m of ["Session", "Interaction", "Grant", "AuthorizationCode", "RefreshToken"]) expect(models).toContain(m);

    // What oidc-provider reads back (the adapter opens the sealed values): the raw ids, checked
    // against the hashed lookup columns so that they are the real ones.
    const sealer = new StoredIdSealer(storedIdKey(TEST_ENCRYPTION_KEY));
    const sessionUids = new Set<string>();
    const grantIds = new Set<string>();
    const sids = new Set<string>();
    for (const row of rows) {
      const p = sealer.open(row.model, row.id, row.payload) as {
        uid?: string;
        grantId?: string;
        sessionUid?: string;
        sid?: string;
        returnTo?: string;
        session?: { uid?: string };
        authorizations?: Record<string, { grantId?: string; sid?: string }>;
      };
      if (row.model === "Session") {
        expect(sha256Hex(p.uid!)).toBe(row.uid);
        sessionUids.add(p.uid!);
        for (const a of Object.values(p.authorizations ?? {})) {
          if (a.grantId) grantIds.add(a.grantId);
          if (a.sid) sids.add(a.sid);
        }
      }
      if (row.model === "AuthorizationCode" || row.model === "RefreshToken") {
        expect(sha256Hex(p.grantId!)).toBe(row.grant_id);
        grantIds.add(p.grantId!);
        sessionUids.add(p.sessionUid!);
        if (p.sid) sids.add(p.sid);
      }
      if (row.model === "Interaction") {
        expect(p.returnTo).toMatch(/\/oauth\/authorize\/[^/]+$/);
        uids.add(p.returnTo!.split("/").at(-1)!);
        if (p.session?.uid) sessionUids.add(p.session.uid);
        if (p.grantId) grantIds.add(p.grantId);
      }
    }
    const grantRows = new Set(rows.filter((r) => r.model === "Grant").map((r) => r.id));
    for (const g of grantIds) expect(grantRows).toContain(sha256Hex(g));
    expect(sessionUids.size).toBe(1);
    expect(grantIds.size).toBe(1);

    const raw = [...uids, ...sessionUids, ...grantIds, ...sids, ...browser.cookieValues(), tokens.refresh_token!, rotated.refresh_token!];
    for (const row of rows) {
      for (const value of raw) expect(row.text.includes(value), `${row.model} row holds ${value}`).toBe(false);
    }

    // Everything still works from the sealed rows: the pending consent completes, and refreshes.
    const done = await browser.submit(again, /\/consent$/, { decision: "allow" });
    expect(done.leftTo?.searchParams.get("code")).toEqual(expect.any(String));
    expect((await refresh(rotated.refresh_token!)).status).toBe(200);
  });

  it("rows written before sealing fail safe: they read as absent, and migration 0017 deletes them (grants stay)", async () => {
    const { user, tokens } = await login("openid offline_access");
    const sealer = new StoredIdSealer(storedIdKey(TEST_ENCRYPTION_KEY));
    // Rewrite the user's rows as the previous adapter stored them: the same payload, ids raw.
    for (const row of await rowsOf(user.publicId)) {
      const legacy = sealer.open(row.model, row.id, row.payload);
      await auth.sql`update altalune_oidc_models set payload = ${auth.sql.json(legacy as never)} where model = ${row.model} and id = ${row.id}`;
    }
    expect(await refresh(tokens.refresh_token!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    const fresh = await login("openid offline_access");

    const file = "0017_oidc_sealed_ids.sql";
    await auth.sql.unsafe(parseMigration(file, readFileSync(new URL(`../../../migrations/${file}`, import.meta.url), "utf8")).up);
    expect((await rowsOf(user.publicId)).map((r) => r.model)).toEqual(["Grant"]);
    // Rows written by the sealing adapter are kept.
    expect((await refresh(fresh.tokens.refresh_token!)).status).toBe(200);
  });
});
