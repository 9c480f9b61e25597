import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "@altalune/core";
import { createClient, createUser, startTestAuth, type TestAuth, type TestClient } from "./testing/auth-harness.js";
import { Browser } from "./testing/browser.js";
import { authorizationUrl, browserLogin, exchange, relyingParty } from "./testing/login-flow.js";

// What happens to tokens after the login: refresh rotation and its reuse leeway, reuse
// detection, introspection, revocation, code reuse, users who stop being active, logout.

let auth: TestAuth;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;

beforeAll(async () => {
  auth = await startTestAuth();
  app = await createClient(auth.sql, { name: "Tokens App", confidential: true, postLogoutRedirectUris: ["https://app.example.test/bye"] });
  rp = await relyingParty(auth.issuer, app);
});

afterAll(async () => {
  await auth?.close();
});

async function login(scope = "openid profile email offline_access", browser = new Browser(auth.issuer)) {
  const user = await createUser(auth.sql, { email: `user-${++seq}@example.test`, firstName: "Tok", permissions: ["project:read"] });
  const start = await authorizationUrl(rp, app, { scope, prompt: "consent" });
  const { callback } = await browserLogin(browser, auth.smtp, start, user.email);
  const tokens = await exchange(rp, start, callback);
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
  it("rotate on every use and carry the permissions and memberships of the moment", async () => {
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
