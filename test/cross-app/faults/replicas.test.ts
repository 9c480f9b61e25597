import { createServer, request as httpRequest, type Server } from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { ProjectService, UserService } from "@altalune/proto";
import { createUser, freePort, TEST_ENCRYPTION_KEY } from "@altalune/test-kit";
import { createClient as createOauthClient, startSmtpReceiver, type SmtpReceiver, type TestClient } from "@altalune/auth/testing";
import { authorizationUrl, Browser, browserLogin, codeFromMail, exchange, relyingParty, type Page } from "@altalune/auth/testing";
import { dataDir, READY, runCli, startServerProcess, USER_STATE_TTL_MS, type ServerProcess } from "@altalune/resources/testing";

// Two processes of each app (`altalune serve-auth` ×2, `altalune serve` ×2) on one database, the
// auth replicas behind a load balancer this file controls (one issuer URL, like production): what
// one replica does, the other sees. Real processes, real ports, real mail.

/** A load balancer that sends every request to the replica the test picks (no connection reuse). */
class Balancer {
  target = 0;
  private server: Server | undefined;
  url = "";
  constructor(private readonly port: number) {}
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const upstream = httpRequest(
        { host: "127.0.0.1", port: this.target, method: req.method, path: req.url, headers: req.headers, agent: false },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.port}`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split(".")[0] ?? "", "base64url").toString()) as { kid: string }).kid;

describe("two replicas of each app on one database", () => {
  let db: TestDatabase;
  let smtp: SmtpReceiver;
  let data: Awaited<ReturnType<typeof dataDir>>;
  let lb: Balancer;
  const processes: ServerProcess[] = [];
  let authPorts: [number, number];
  let apiUrls: [string, string];
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase({ max: 2 });
    smtp = await startSmtpReceiver();
    data = await dataDir();
    lb = new Balancer(await freePort());
    await lb.start();
    authPorts = [await freePort(), await freePort()];
    lb.target = authPorts[0];
    env = {
      DATABASE_URL: db.url,
      DATA_DIR: data.path,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"),
      SMTP_URL: smtp.url,
      AUTH_ISSUER: lb.url,
      // Replicas are stopped by the test, not drained by a load balancer.
      SHUTDOWN_DRAIN_MS: "0",
    };
    // Seeds the superadmin and writes the dev secrets (cookie keys) all four processes share.
    const migrated = await runCli(["migrate", "up"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const started = await Promise.all([
      ...authPorts.map((port) => startServerProcess(["serve-auth"], { ...env, AUTH_PORT: String(port) }, [READY.auth])),
      startServerProcess(["serve"], env, [READY.resources]),
      startServerProcess(["serve"], env, [READY.resources]),
    ]);
    processes.push(...started);
    apiUrls = [started[2]!.found[0]!, started[3]!.found[0]!];
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await lb?.close();
    await smtp?.close();
    await db?.drop();
    await data?.remove();
  });

  const via = (replica: 0 | 1) => {
    lb.target = authPorts[replica];
  };

  const api = (replica: 0 | 1, token: string) => {
    const transport = createConnectTransport({
      baseUrl: apiUrls[replica],
      httpVersion: "1.1",
      interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
    });
    return { projects: createClient(ProjectService, transport), users: createClient(UserService, transport) };
  };
  const listProjects = (replica: 0 | 1, token: string) =>
    api(replica, token).projects.queryProjects({ query: { pagination: { page: 1, pageSize: 10 } } }).then(
      () => "ok" as const,
      (e: unknown) => ConnectError.from(e).code,
    );

  async function thirdParty(browser: Browser, client: TestClient, email: string) {
    const rp = await relyingParty(lb.url, client);
    const start = await authorizationUrl(rp, client, { scope: "openid email offline_access project:read", prompt: "consent" });
    const { callback } = await browserLogin(browser, smtp, start, email);
    return { rp, tokens: await exchange(rp, start, callback) };
  }

  it("refresh, consent revocation, logout, key rotation, login-code limits and deactivation cross replicas", async () => {
    const scopes = ["openid", "email", "offline_access", "project:read"];
    const revocable = await createOauthClient(db.sql, { name: "Revocable App", confidential: true, allowedScopes: scopes });
    const rotating = await createOauthClient(db.sql, { name: "Rotating App", confidential: true, allowedScopes: scopes });
    const person = await createUser(db.sql, { email: "replica-person@example.test", permissions: ["project:read"], projects: [{ name: "Replica Project", role: "member" }] });
    const leaver = await createUser(db.sql, { email: "replica-leaver@example.test", permissions: ["project:read"], projects: [{ name: "Leaver Project", role: "member" }] });

    // Deactivation through API replica A, seen by replica B within the user-state TTL. B learns
    // that the user is active first (cached), so it must notice the change by itself.
    const issued = await Promise.all([
      runCli(["token", "issue", "--email", "admin@altalune.local", "--ttl", "10m"], env),
      runCli(["token", "issue", "--email", leaver.email, "--ttl", "10m"], env),
    ]);
    for (const r of issued) expect(r.code, r.stderr).toBe(0);
    const [rootToken, leaverToken] = issued.map((r) => r.stdout.trim()) as [string, string];
    expect(await listProjects(1, leaverToken)).toBe("ok");
    await api(0, rootToken).users.deactivateUser({ id: leaver.publicId });
    const deactivatedAt = performance.now();
    expect(await listProjects(0, leaverToken)).toBe(Code.Unauthenticated);
    const refusedOnB = (async () => {
      while (performance.now() - deactivatedAt < USER_STATE_TTL_MS + 5_000) {
        if ((await listProjects(1, leaverToken)) === Code.Unauthenticated) return performance.now() - deactivatedAt;
        await sleep(250);
      }
      return Number.POSITIVE_INFINITY;
    })();

    // A sign-in on replica A: the account pages, then two applications with offline access.
    via(0);
    const browser = new Browser(lb.url);
    const login = await browser.navigate("/account");
    const codePage = await browser.submit(login, /\/login$/, { email: person.email });
    await browser.submit(codePage, /\/code$/, { code: await codeFromMail(smtp, person.email) });
    const revocableApp = await thirdParty(browser, revocable, person.email);
    const rotatingApp = await thirdParty(browser, rotating, person.email);
    const oldKid = kidOf(revocableApp.tokens.access_token);
    expect(await listProjects(0, revocableApp.tokens.access_token)).toBe("ok");
    expect(await listProjects(1, revocableApp.tokens.access_token)).toBe("ok");

    // A token obtained through A refreshes on B.
    via(1);
    const refreshedOnB = await oidc.refreshTokenGrant(revocableApp.rp, revocableApp.tokens.refresh_token!);
    expect(refreshedOnB.access_token).toEqual(expect.any(String));

    // Consent revoked on A: the refresh token B handed out is dead on B.
    via(0);
    const account = await browser.navigate("/account");
    const revokeForm = formFor(account, revocable.clientId);
    const revoked = await browser.request("/account/consents/revoke", { form: revokeForm });
    expect(revoked.status).toBe(303);
    via(1);
    await expect(oidc.refreshTokenGrant(revocableApp.rp, refreshedOnB.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });

    // Logout on A ends the session on B: B asks for a login again.
    via(0);
    const beforeLogout = await browser.navigate("/account");
    const out = await browser.submit(beforeLogout, "/account/logout");
    expect(out.body).toContain("You have signed out");
    via(1);
    expect((await browser.navigate("/account")).body).toMatch(/\/login"/);

    // Login-code requests from one address are counted together: 20 per 15 min across A and B
    // (one was spent above). Ten different addresses on A, then B refuses the 20th request.
    const stranger = new Browser(lb.url);
    via(0);
    const loginPage = await stranger.navigate("/account");
    const answers: number[] = [];
    for (let i = 0; i < 10; i++) answers.push((await stranger.submit(loginPage, /\/login$/, { email: `limit-a-${i}@example.test` })).status);
    via(1);
    for (let i = 0; i < 12; i++) answers.push((await stranger.submit(loginPage, /\/login$/, { email: `limit-b-${i}@example.test` })).status);
    expect(answers.slice(0, 19).every((s) => s !== 429)).toBe(true);
    expect(answers.slice(19)).toEqual(Array(3).fill(429));

    // A signing-key rotation reaches both: both auth replicas publish the key, then sign with it,
    // and both API replicas accept its tokens (the API refetches the JWKS on an unknown kid at
    // most once per 30 s cooldown, so allow that).
    const rotated = await runCli(["keys", "rotate", "--delay-seconds", "6"], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = /new signing key (\S+),/.exec(rotated.stdout)?.[1];
    expect(newKid).toBeDefined();
    const published = await Promise.all(
      authPorts.map(async (port) => {
        const started = performance.now();
        for (;;) {
          const jwks = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
          if (jwks.keys.some((k) => k.kid === newKid)) return performance.now() - started;
          if (performance.now() - started > 10_000) return Number.POSITIVE_INFINITY;
          await sleep(200);
        }
      }),
    );
    expect(Math.max(...published)).toBeLessThan(10_000);
    let refreshToken = rotatingApp.tokens.refresh_token!;
    const signedBy = new Map<0 | 1, string>();
    const rotationStarted = performance.now();
    while (signedBy.size < 2 && performance.now() - rotationStarted < 20_000) {
      for (const replica of [0, 1] as const) {
        via(replica);
        const next = await oidc.refreshTokenGrant(rotatingApp.rp, refreshToken);
        refreshToken = next.refresh_token!;
        if (kidOf(next.access_token) === newKid) signedBy.set(replica, next.access_token);
      }
      if (signedBy.size < 2) await sleep(500);
    }
    expect([...signedBy.keys()].sort()).toEqual([0, 1]);
    expect(newKid).not.toBe(oldKid);
    const accepted = await Promise.all(
      ([0, 1] as const).flatMap((apiReplica) =>
        [...signedBy.values()].map(async (token) => {
          const started = performance.now();
          while (performance.now() - started < 35_000) {
            if ((await listProjects(apiReplica, token)) === "ok") return true;
            await sleep(500);
          }
          return false;
        }),
      ),
    );
    expect(accepted).toEqual([true, true, true, true]);

    // Within the documented bound (the user-state TTL), generously.
    expect(await refusedOnB).toBeLessThan(USER_STATE_TTL_MS + 5_000);
  }, 90_000);
});

/** The revoke form of one application on the account page, with its CSRF token. */
function formFor(page: Page, clientId: string): Record<string, string> {
  const item = new RegExp(`<li data-client="${clientId}">[\\s\\S]*?</li>`).exec(page.body)?.[0];
  const csrf = item && /name="csrf_token" value="([^"]+)"/.exec(item)?.[1];
  if (!csrf) throw new Error(`no revoke form for ${clientId} in:\n${page.body}`);
  return { csrf_token: csrf, client_id: clientId };
}
