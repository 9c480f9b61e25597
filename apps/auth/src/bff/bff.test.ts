import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiForAuth } from "../testing/api-for-auth.js";
import { TEST_ENV, type TestApi } from "@altalune/resources/testing";
import { startTestAuth, type TestAuth } from "../testing/auth-harness.js";
import { CLIENT_CACHE_TTL_MS } from "../provider/client-store.js";
import { Browser } from "../testing/browser.js";
import { authorizationUrl, browserLogin, relyingParty, type AuthorizationStart } from "../testing/login-flow.js";

// The web client's cycle against a real auth server and a real Resources API on one database:
// the browser logs in with the dashboard client (authorization code + PKCE), hands the code to
// the BFF, and from then on holds only httpOnly cookies.

const ORIGIN = "http://localhost:3000";
const REDIRECT_URI = `${ORIGIN}/auth/callback`;

let auth: TestAuth;
let api: TestApi;

beforeAll(async () => {
  auth = await startTestAuth({
    env: {
      DASHBOARD_CLIENT_ID: TEST_ENV["DASHBOARD_CLIENT_ID"]!,
      DASHBOARD_CLIENT_SECRET: TEST_ENV["DASHBOARD_CLIENT_SECRET"]!,
      ALLOWED_ORIGINS: ORIGIN,
    },
  });
  // Seeds the default project, the superadmin and the dashboard client (from TEST_ENV) into the
  // auth server's database, and trusts the auth server's tokens.
  api = await startApiForAuth(auth, ORIGIN);
});

afterAll(async () => {
  await api?.close();
  await auth?.close();
});

const dashboard = () => ({
  clientId: TEST_ENV["DASHBOARD_CLIENT_ID"]!,
  clientSecret: TEST_ENV["DASHBOARD_CLIENT_SECRET"]!,
  redirectUri: REDIRECT_URI,
});

/** A browser that has signed in as the superadmin and holds the code for the BFF. */
async function signedIn(): Promise<{ browser: Browser; start: AuthorizationStart; code: string }> {
  const rp = await relyingParty(auth.issuer, dashboard());
  const start = await authorizationUrl(rp, dashboard(), { scope: "openid profile email offline_access" });
  const browser = new Browser(auth.issuer);
  const { callback, consented } = await browserLogin(browser, auth.smtp, start, api.superadmin.email);
  expect(consented).toBe(false); // first-party: no consent page
  const code = callback.searchParams.get("code");
  if (code === null) throw new Error(`no code in ${callback.href}`);
  return { browser, start, code };
}

const bff = (path: string) => `${auth.issuer}/oauth/${path}`;
const fromDashboard = { origin: ORIGIN };

describe("BFF cycle", () => {
  it("exchange → me → API with the cookie only → 10 concurrent refreshes → logout", async () => {
    const { browser, start, code } = await signedIn();

    const exchanged = await browser.request(bff("exchange"), {
      method: "POST",
      headers: fromDashboard,
      json: { code, code_verifier: start.verifier, redirect_uri: REDIRECT_URI },
    });
    expect(exchanged.status).toBe(200);
    const body = JSON.parse(exchanged.body) as { user: { sub: string; perms: string[]; memberships: Record<string, string> }; expires_in: number };
    expect(body.user.sub).toBe(api.superadmin.publicId);
    expect(body.user.perms).toContain("root");
    expect(body.user.memberships[api.defaultProjectId]).toBe("owner");
    expect(body.expires_in).toBeGreaterThan(800);
    const setCookies = exchanged.headers.getSetCookie();
    const access = setCookies.find((c) => c.startsWith("access_token="))!;
    const refresh = setCookies.find((c) => c.startsWith("refresh_token="))!;
    expect(access).toMatch(/; path=\/;/);
    expect(access).toMatch(/httponly/i);
    expect(access).toMatch(/samesite=lax/i);
    expect(refresh).toMatch(/path=\/oauth/);
    expect(refresh).toMatch(/httponly/i);
    expect(exchanged.body).not.toContain(browser.cookie("access_token")!);

    const me = await browser.request(bff("me"), { headers: fromDashboard });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ user: { sub: api.superadmin.publicId } });
    expect(me.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(me.headers.get("access-control-allow-credentials")).toBe("true");

    const viaCookie = await fetch(`${api.baseUrl}/altalune.v1.ProjectService/QueryProjects`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: ORIGIN, cookie: `access_token=${browser.cookie("access_token")}` },
      body: JSON.stringify({ query: { pagination: { page: 1, pageSize: 10 } } }),
    });
    expect(viaCookie.status).toBe(200);
    expect(((await viaCookie.json()) as { meta: { rowCount: number } }).meta.rowCount).toBeGreaterThan(0);

    // Ten tabs refresh at once with the same refresh cookie: nobody is logged out.
    const oldRefresh = browser.cookie("refresh_token")!;
    const oldAccess = browser.cookie("access_token")!;
    const tabs = await Promise.all(
      Array.from({ length: 10 }, () => browser.request(bff("refresh"), { method: "POST", headers: fromDashboard, json: {} })),
    );
    expect(tabs.map((t) => t.status)).toEqual(Array(10).fill(200));
    const newAccess = browser.cookie("access_token")!;
    expect(newAccess).not.toBe(oldAccess);
    expect(new Set(tabs.map((t) => t.headers.getSetCookie().find((c) => c.startsWith("access_token="))))).toHaveProperty("size", 1);
    expect(browser.cookie("refresh_token")).not.toBe(oldRefresh);
    // The rotated token keeps working for the next refresh.
    const again = await browser.request(bff("refresh"), { method: "POST", headers: fromDashboard, json: {} });
    expect(again.status).toBe(200);

    const refreshBeforeLogout = browser.cookie("refresh_token")!;
    const out = await browser.request(bff("logout"), { method: "POST", headers: fromDashboard, json: {} });
    expect(out.status).toBe(204);
    expect(browser.cookie("access_token")).toBeUndefined();
    expect(browser.cookie("refresh_token")).toBeUndefined();
    expect(browser.cookie("_session")).toBeUndefined();

    // The refresh token was revoked: presenting it again fails and clears cookies.
    const replay = await fetch(bff("refresh"), {
      method: "POST",
      headers: { ...fromDashboard, "content-type": "application/json", cookie: `refresh_token=${refreshBeforeLogout}` },
      body: "{}",
    });
    expect(replay.status).toBe(401);
    expect(replay.headers.get("content-type")).toBe("application/problem+json");
    expect(await replay.json()).toMatchObject({ type: "urn:altalune:bff:refresh_failed", status: 401 });
    // The login session is over: a new authorization request asks for the email again.
    const rp = await relyingParty(auth.issuer, dashboard());
    const next = await authorizationUrl(rp, dashboard());
    const page = await browser.navigate(next.url.href);
    expect(page.leftTo).toBeUndefined();
    expect(page.body).toMatch(/\/login"/);
  });
});

describe("BFF refusals", () => {
  it.each([
    ["a foreign Origin", { origin: "https://evil.example" }, "application/json", 403, "forbidden_origin"],
    // Same-site (localhost, another port) but not allowed: a browser would send it Lax cookies.
    ["a same-site Origin that is not allowed", { origin: "http://localhost:9" }, "application/json", 403, "forbidden_origin"],
    ["no Origin", {}, "application/json", 403, "forbidden_origin"],
    ["a form content type", fromDashboard, "application/x-www-form-urlencoded", 415, "unsupported_media_type"],
    ["text/plain", fromDashboard, "text/plain", 415, "unsupported_media_type"],
  ] as const)("state-changing calls from %s are refused", async (_label, headers, contentType, status, type) => {
    for (const path of ["exchange", "refresh", "logout"]) {
      const res = await fetch(bff(path), { method: "POST", headers: { ...headers, "content-type": contentType }, body: "{}" });
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(await res.json()).toMatchObject({ type: `urn:altalune:bff:${type}`, status });
    }
  });

  it("refresh and logout accept an empty POST from an allowed origin, as the original's frontend sends them", async () => {
    // Before sign-in: no cookie is 401 (never 415).
    const anonymous = await fetch(bff("refresh"), { method: "POST", headers: fromDashboard });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ type: "urn:altalune:bff:not_authenticated" });
    // A body must still be JSON, and an empty POST from a same-site origin that is not allowed is refused.
    const form = await fetch(bff("refresh"), { method: "POST", headers: { ...fromDashboard, "content-type": "text/plain" }, body: "x" });
    expect(form.status).toBe(415);
    const sameSite = await fetch(bff("logout"), { method: "POST", headers: { origin: "http://localhost:9" } });
    expect(sameSite.status).toBe(403);
    const noOrigin = await fetch(bff("logout"), { method: "POST" });
    expect(noOrigin.status).toBe(403);
    const out = await fetch(bff("logout"), { method: "POST", headers: fromDashboard });
    expect(out.status).toBe(204);
  });

  it.each([
    ["not JSON", "{", "the body is not valid JSON"],
    ["an array", "[]", "the body must be a JSON object"],
    ["a missing field", JSON.stringify({ code: "x", code_verifier: "y" }), "missing or invalid field: redirect_uri"],
    ["a non-string field", JSON.stringify({ code: 1, code_verifier: "y", redirect_uri: REDIRECT_URI }), "missing or invalid field: code"],
  ])("exchange with %s is a 400 problem", async (_label, body, detail) => {
    const res = await fetch(bff("exchange"), { method: "POST", headers: { ...fromDashboard, "content-type": "application/json" }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: "urn:altalune:bff:invalid_request", detail });
  });

  it("exchange with an unknown code is refused without setting cookies", async () => {
    const res = await fetch(bff("exchange"), {
      method: "POST",
      headers: { ...fromDashboard, "content-type": "application/json" },
      body: JSON.stringify({ code: "nope", code_verifier: "x".repeat(43), redirect_uri: REDIRECT_URI }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: "urn:altalune:bff:token_exchange_failed" });
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("a code cannot be exchanged twice", async () => {
    const { browser, start, code } = await signedIn();
    const body = { code, code_verifier: start.verifier, redirect_uri: REDIRECT_URI };
    expect((await browser.request(bff("exchange"), { method: "POST", headers: fromDashboard, json: body })).status).toBe(200);
    expect((await browser.request(bff("exchange"), { method: "POST", headers: fromDashboard, json: body })).status).toBe(400);
  });

  // Issue 11: the BFF redeems codes with the dashboard's secret for any caller (a script sends any
  // Origin it likes), so a code delivered to a foreign redirect URI registered on the dashboard
  // client — through the API before the fix, or any other way — must not be exchanged.
  it("exchanges codes only for DASHBOARD_REDIRECT_URIS, even when the client row lists another URI", async () => {
    const evil = "https://evil.example.net/cb";
    const [row] = await auth.sql<{ redirect_uris: string[] }[]>`select redirect_uris from altalune_oauth_clients where is_default`;
    await auth.sql`update altalune_oauth_clients set redirect_uris = ${[...row!.redirect_uris, evil]}::text[] where is_default`;
    try {
      await new Promise((r) => setTimeout(r, CLIENT_CACHE_TTL_MS + 200));
      // A signed-in user opens the attacker's link: no consent page, the code goes to the attacker.
      const { browser } = await signedIn();
      const attacker = { ...dashboard(), redirectUri: evil };
      const start = await authorizationUrl(await relyingParty(auth.issuer, attacker), attacker, { scope: "openid profile email offline_access" });
      const landed = await browser.navigate(start.url.href);
      expect(landed.leftTo?.origin).toBe("https://evil.example.net");
      const code = landed.leftTo!.searchParams.get("code")!;

      const res = await fetch(bff("exchange"), {
        method: "POST",
        headers: { ...fromDashboard, "content-type": "application/json" },
        body: JSON.stringify({ code, code_verifier: start.verifier, redirect_uri: evil }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ type: "urn:altalune:bff:redirect_uri_not_allowed", detail: "redirect_uri is not one of DASHBOARD_REDIRECT_URIS" });
      expect(res.headers.getSetCookie()).toEqual([]);
      // The code itself was good (and still is): only the dashboard's secret could redeem it.
      const direct = await fetch(`${auth.issuer}/oauth/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${Buffer.from(`${dashboard().clientId}:${dashboard().clientSecret}`).toString("base64")}`,
        },
        body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: start.verifier, redirect_uri: evil }).toString(),
      });
      expect(direct.status).toBe(200);
    } finally {
      await auth.sql`update altalune_oauth_clients set redirect_uris = ${row!.redirect_uris}::text[] where is_default`;
    }
  });

  it("/me without a cookie, or with a forged one, is 401", async () => {
    expect((await fetch(bff("me"))).status).toBe(401);
    const forged = await fetch(bff("me"), { headers: { cookie: "access_token=eyJhbGciOiJub25lIn0.e30." } });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ type: "urn:altalune:bff:not_authenticated" });
  });

  it("answers CORS preflights for the allowed origin only", async () => {
    const preflight = (origin: string) =>
      fetch(bff("exchange"), { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    const ok = await preflight(ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    const refused = await preflight("https://evil.example");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });
});

// Last in this file: it spends this address's budget.
describe("BFF token-call budget", () => {
  it("counts /oauth/refresh per end-user address (TOKEN_RATE_LIMIT_PER_MINUTE), then 429 + Retry-After", async () => {
    let res: Response | undefined;
    for (let i = 0; i <= auth.config.auth.tokenRateLimitPerMinute; i++) {
      res = await fetch(bff("refresh"), { method: "POST", headers: { ...fromDashboard, "content-type": "application/json" }, body: "{}" });
      if (res.status === 429) break;
      expect(res.status).toBe(401); // no refresh cookie
    }
    expect(res?.status).toBe(429);
    expect(Number(res?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await res?.json()).toMatchObject({ type: expect.stringContaining("rate_limited") });
  });
});
