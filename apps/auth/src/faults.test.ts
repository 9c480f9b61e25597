import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Sql } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { TcpProxy } from "@altalune/resources/testing";
import { startPgBouncer } from "../../../packages/db/src/testing-pgbouncer.js";
import { internalCallerSecret } from "./provider/derived-secrets.js";
import { PURGE_LOCK_KEY, purgeExpired } from "./provider/pg-adapter.js";
import { INTERNAL_CALLER_HEADER } from "./rate-limit/index.js";
import { createClient, createUser, freePort, startTestAuth, TEST_ENCRYPTION_KEY, type TestAuth, type TestClient } from "./testing/auth-harness.js";
import { Browser } from "./testing/browser.js";
import { authorizationUrl, browserLogin, exchange, relyingParty, startLogin } from "./testing/login-flow.js";
import { sha256Hex } from "@altalune/core";

// The authorization server during a database outage and under overload (issue 12). The server
// reaches its own test database through a TCP proxy this file controls; only this file's
// connections pass through it, the shared test server is never touched.

const ORIGIN = "http://localhost:3000";
const REDIRECT_URI = `${ORIGIN}/auth/callback`;
const UNAVAILABLE_TEXT = /Sign-in is temporarily unavailable/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await check().catch(() => false)) return performance.now() - started;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

let db: TestDatabase;
let proxy: TcpProxy;
let proxied: Sql;
let auth: TestAuth;
let dashboard: TestClient & { clientSecret: string };
let email: string;

beforeAll(async () => {
  db = await createTestDatabase({ max: 5 });
  const url = new URL(db.url);
  proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
  proxied = createPool(proxy.urlFor(db.url), { max: 5, queueTimeoutMs: 1000 });
  const client = await createClient(db.sql, { name: "Dashboard", isDefault: true, redirectUris: [REDIRECT_URI] });
  dashboard = { ...client, clientSecret: client.clientSecret! };
  email = (await createUser(db.sql, { email: "outage@faults.test", emailVerified: true })).email;
  auth = await startTestAuth({
    db: { ...db, sql: proxied },
    env: {
      DASHBOARD_CLIENT_ID: dashboard.clientId,
      DASHBOARD_CLIENT_SECRET: dashboard.clientSecret,
      DASHBOARD_REDIRECT_URIS: REDIRECT_URI,
      ALLOWED_ORIGINS: ORIGIN,
      DB_UNAVAILABLE_TIMEOUT_MS: "1000",
    },
  });
});

afterAll(async () => {
  await proxy?.setMode("forward");
  await auth?.close();
  await proxy?.close();
  await proxied?.end({ timeout: 1 });
  await db?.drop();
});

const basic = (c: TestClient) => `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret!)}`).toString("base64")}`;

/** A raw token-endpoint or introspection call as a confidential client; `asBff` sends the BFF's internal-caller header. */
function oauthPost(path: string, form: Record<string, string>, opts: { asBff?: boolean } = {}) {
  return fetch(`${auth.issuer}${path}`, {
    method: "POST",
    headers: {
      authorization: basic(dashboard),
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      ...(opts.asBff ? { [INTERNAL_CALLER_HEADER]: internalCallerSecret(TEST_ENCRYPTION_KEY) } : {}),
    },
    body: new URLSearchParams(form).toString(),
  });
}

function bffRefresh(base: string, cookies: string) {
  return fetch(`${base}/oauth/refresh`, { method: "POST", headers: { origin: ORIGIN, "content-type": "application/json", cookie: cookies }, body: "{}" });
}

/** The browser's session cookies for the BFF (access and refresh token), from a login and an exchange. */
async function signedInWebUser(): Promise<{ cookies: string; refreshToken: string }> {
  const rp = await relyingParty(auth.issuer, dashboard);
  const start = await authorizationUrl(rp, dashboard, { scope: "openid email offline_access" });
  const browser = new Browser(auth.issuer);
  const { callback } = await browserLogin(browser, auth.smtp, start, email);
  const exchanged = await browser.request(`${auth.issuer}/oauth/exchange`, {
    method: "POST",
    headers: { origin: ORIGIN },
    json: { code: callback.searchParams.get("code"), code_verifier: start.verifier, redirect_uri: REDIRECT_URI },
  });
  expect(exchanged.status).toBe(200);
  const set = exchanged.headers.getSetCookie().map((c) => c.split(";")[0]!);
  const refreshToken = set.find((c) => c.startsWith("refresh_token="))!.slice("refresh_token=".length);
  return { cookies: set.join("; "), refreshToken };
}

async function expectUnavailableJson(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
  expect(await res.json()).toMatchObject({ error: "temporarily_unavailable" });
}

async function expectUnavailablePage(res: { status: number; headers: Headers; body: string }): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
  expect(res.headers.get("content-type")).toMatch(/text\/html/);
  expect(res.body).toMatch(UNAVAILABLE_TEXT);
}

describe("auth server during a database outage", () => {
  it("token, introspection, BFF and login pages answer 503 temporarily_unavailable at once, the session cookies stay, and everything works again after", async () => {
    const web = await signedInWebUser();
    // A refresh token held by the relying party itself (from its own login).
    const rp = await relyingParty(auth.issuer, dashboard);
    const start = await authorizationUrl(rp, dashboard, { scope: "openid email offline_access" });
    const rpBrowser = new Browser(auth.issuer);
    const tokens = await exchange(rp, start, (await browserLogin(rpBrowser, auth.smtp, start, email)).callback);
    const refreshToken = tokens.refresh_token!;
    // A login page that was open when the database went away, and a client never seen before.
    const pendingBrowser = new Browser(auth.issuer);
    const codePage = await startLogin(pendingBrowser, await authorizationUrl(rp, dashboard), email);
    expect(codePage.status).toBe(200);
    await auth.smtp.waitFor(email); // that code mail is never used; later logins read the next ones
    const otherClient = await createClient(db.sql, { name: "Never cached" });

    await proxy.setMode("refuse");
    proxy.cut();

    // Token endpoint, as any client calls it (its rate limit needs the database) and as the BFF does (straight to oidc-provider).
    for (const asBff of [false, true]) {
      const { value: res, ms } = await timed(() => oauthPost("/oauth/token", { grant_type: "refresh_token", refresh_token: refreshToken }, { asBff }));
      await expectUnavailableJson(res);
      expect(ms).toBeLessThan(3000);
      const introspection = await timed(() => oauthPost("/oauth/introspect", { token: refreshToken }, { asBff }));
      await expectUnavailableJson(introspection.value);
      expect(introspection.ms).toBeLessThan(3000);
    }
    const revocation = await oauthPost("/oauth/revoke", { token: refreshToken, token_type_hint: "refresh_token" }, { asBff: true });
    await expectUnavailableJson(revocation);
    const userinfo = await fetch(`${auth.issuer}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    await expectUnavailableJson(userinfo);

    // The BFF: problem+json 503 with Retry-After, and not a single Set-Cookie (nothing cleared).
    const { value: refreshed, ms: bffMs } = await timed(() => bffRefresh(auth.issuer, web.cookies));
    expect(refreshed.status).toBe(503);
    expect(bffMs).toBeLessThan(3000);
    expect(refreshed.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(refreshed.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(refreshed.headers.getSetCookie()).toEqual([]);
    expect(await refreshed.json()).toMatchObject({ type: "urn:altalune:bff:temporarily_unavailable", status: 503 });

    // The login flow: the open page reloaded, its form submitted, and a new authorization request.
    const reloaded = await timed(() => pendingBrowser.request(codePage.url));
    await expectUnavailablePage(reloaded.value);
    expect(reloaded.value.body).toMatch(/Try again/);
    expect(reloaded.ms).toBeLessThan(3000);
    await expectUnavailablePage(await pendingBrowser.submit(codePage, /\/code$/, { code: "12345678" }));
    const otherRp = await relyingParty(auth.issuer, { ...otherClient });
    await expectUnavailablePage(await new Browser(auth.issuer).request((await authorizationUrl(otherRp, otherClient)).url.href));

    // Readiness follows the database; liveness does not.
    await eventually("readyz 503", 3000, async () => (await fetch(`${auth.issuer}/readyz`)).status === 503);
    expect((await fetch(`${auth.issuer}/healthz`)).status).toBe(200);

    await proxy.setMode("forward");
    const recoveredMs = await eventually("BFF refresh works again", 10_000, async () => (await bffRefresh(auth.issuer, web.cookies)).status === 200);
    const again = await oauthPost("/oauth/token", { grant_type: "refresh_token", refresh_token: refreshToken });
    expect(again.status).toBe(200);
    expect((await fetch(`${auth.issuer}/readyz`)).status).toBe(200);
    expect(recoveredMs).toBeLessThan(10_000);
  });

  it("a database that stops answering (black hole) is answered 503 within the bound, never a hang", async () => {
    // Not cut: the pooled connections stay open and every byte on them is swallowed, so the
    // queries hang and only the call guard (DB_UNAVAILABLE_TIMEOUT_MS) ends the wait.
    await proxy.setMode("blackhole");
    try {
      const { value: res, ms } = await timed(() => oauthPost("/oauth/token", { grant_type: "refresh_token", refresh_token: "whatever" }));
      await expectUnavailableJson(res);
      expect(ms).toBeLessThan(3000);
    } finally {
      await proxy.setMode("forward");
      proxy.cut();
    }
    await eventually("readyz 200", 10_000, async () => (await fetch(`${auth.issuer}/readyz`)).status === 200);
  });

  it("the BFF keeps the session cookies when the token endpoint cannot be reached (only invalid_grant clears them)", async () => {
    const web = await signedInWebUser();
    // A replica whose token endpoint (its issuer) is a closed port: the database is fine, the token endpoint is not.
    const closed = await freePort();
    const replica = await auth.startReplica({ sql: db.sql, config: { ...auth.config, auth: { ...auth.config.auth, issuer: `http://127.0.0.1:${closed}` } } });
    try {
      const res = await bffRefresh(replica.url, web.cookies);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(await res.json()).toMatchObject({ type: "urn:altalune:bff:temporarily_unavailable" });
    } finally {
      await replica.close();
    }
    // A definite refusal still ends the session: the token revoked, then presented.
    const revoked = await oauthPost("/oauth/revoke", { token: web.refreshToken, token_type_hint: "refresh_token" });
    expect(revoked.status).toBe(200);
    const refused = await bffRefresh(auth.issuer, web.cookies);
    expect(refused.status).toBe(401);
    expect(refused.headers.getSetCookie().some((c) => c.startsWith("refresh_token=;"))).toBe(true);
  });
});

describe("auth server under overload and at shutdown", () => {
  it("beyond MAX_CALLS_IN_FLIGHT a request is answered 503 + Retry-After at once; probes are never refused", async () => {
    const replica = await auth.startReplica({ config: { ...auth.config, maxCallsInFlight: 2 } });
    // Every database round trip takes 150 ms, so the admitted requests stay in flight.
    proxy.setDelay(150);
    try {
      const burst = await Promise.all(
        Array.from({ length: 20 }, () =>
          timed(async () => {
            const res = await fetch(`${replica.url}/oauth/token`, {
              method: "POST",
              headers: { authorization: basic(dashboard), "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
              body: "grant_type=refresh_token&refresh_token=nope",
            });
            return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as { error?: string } };
          }),
        ),
      );
      const refused = burst.filter((r) => r.value.status === 503);
      const admitted = burst.filter((r) => r.value.status !== 503);
      expect(refused.length).toBeGreaterThanOrEqual(10);
      expect(admitted.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) {
        expect(r.value.retryAfter).toMatch(/^\d+$/);
        expect(r.value.body.error).toBe("temporarily_unavailable");
        expect(r.ms).toBeLessThan(1000);
      }
      // Admitted ones were answered by the token endpoint itself (the refresh token is unknown).
      for (const r of admitted) expect(r.value.body.error).toBe("invalid_grant");
      expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
    } finally {
      proxy.setDelay(0);
      await replica.close();
    }
  });

  it("on close, readiness turns 503 first while requests are still served, for SHUTDOWN_DRAIN_MS", async () => {
    const replica = await auth.startReplica({ sql: db.sql, config: { ...auth.config, shutdownDrainMs: 600 } });
    expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
    const closing = timed(() => replica.close());
    await sleep(100);
    const ready = await fetch(`${replica.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "shutting down" });
    expect((await fetch(`${replica.url}/.well-known/openid-configuration`)).status).toBe(200);
    expect((await closing).ms).toBeGreaterThanOrEqual(550);
    await expect(fetch(`${replica.url}/healthz`)).rejects.toThrow();
  });
});

describe("purge of expired OIDC rows through a transaction-pooling PgBouncer", () => {
  it("leaves no advisory lock behind on any server connection, and concurrent purgers delete each row once", async () => {
    const bouncer = await startPgBouncer(db.url, { poolSize: 2 });
    const through = createPool(bouncer.urlFor(db.url), { max: 6, prepare: false });
    try {
      const ids = Array.from({ length: 12 }, (_, i) => sha256Hex(`purge-bouncer-${i}`));
      for (const id of ids) {
        await db.sql`insert into altalune_oidc_models (model, id, payload, expires_at) values ('AccessToken', ${id}, '{}', now() - interval '1 minute')`;
      }
      const counts = await Promise.all(Array.from({ length: 4 }, () => purgeExpired(through, 1)));
      const left = await db.sql`select 1 from altalune_oidc_models where id in ${db.sql(ids)}`;
      expect(left).toHaveLength(0);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(ids.length);
      // Held by no backend: a session-level lock taken through the bouncer would stay on the pooled server connection.
      const locks = await db.sql`select 1 from pg_locks where locktype = 'advisory' and objid = (hashtext(${PURGE_LOCK_KEY}))::oid`;
      expect(locks).toHaveLength(0);
    } finally {
      await through.end({ timeout: 1 });
      await bouncer.close();
    }
  });
});
