import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as oidc from "openid-client";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, createMetricsRegistry, loadConfig, sha256Hex, startMetricsServer } from "@altalune/core";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { createUser, freePort, TEST_ENCRYPTION_KEY } from "@altalune/test-kit";
import { authorizationUrl, Browser, browserLogin, createClient, exchange, relyingParty, startSmtpReceiver, startTestAuth } from "@altalune/auth/testing";
import { startTestApi } from "@altalune/resources/testing";
import { grpcStatus } from "./testing/grpc-status.js";
import { parsePrometheusText, sampleValue, type Family } from "./testing/prometheus-text.js";

// Metrics as an operator scrapes them: one `altalune dev` process (both apps, one pool), each app
// on its own metrics port with its own registry; real calls on both API ports and a real login,
// token grants and refresh-token reuse on the auth server; the exposition parsed strictly.

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const done of cleanup.reverse()) await done();
});

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

function labelValues(families: Map<string, Family>): string[] {
  return [...families.values()].flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels)));
}

describe("metrics", () => {
  it("altalune dev: each app's port shows its own calls, logins, grants, pool and process series, with bounded labels", async () => {
    const db: TestDatabase = await createTestDatabase({ empty: true });
    cleanup.push(() => db.drop());
    const smtp = await startSmtpReceiver();
    cleanup.push(() => smtp.close());
    const dataDir = await mkdtemp(join(tmpdir(), "altalune-metrics-"));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const authPort = await freePort();
    const issuer = `http://127.0.0.1:${authPort}`;
    const env = {
      ...process.env,
      LOG_LEVEL: "warn",
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"),
      SMTP_URL: smtp.url,
      AUTH_PORT: String(authPort),
      AUTH_ISSUER: issuer,
      RESOURCES_PORT: "0",
      GRPC_PORT: "0",
      WEB_PORT: "0",
      METRICS_PORT: "0",
      AUTH_METRICS_PORT: "0",
      // Low enough for this test's own token requests to reach it.
      TOKEN_RATE_LIMIT_PER_MINUTE: "3",
    };
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "dev"], { env });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    let stdout = "";
    const urls = await new Promise<{ api: string; grpc: string; apiMetrics: string; authMetrics: string }>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const api = /Resources API \(Connect, gRPC-Web, gRPC\): (http:\/\/\S+)/.exec(stdout)?.[1];
        const grpc = /Native gRPC \(reflection, health\): +(\S+)/.exec(stdout)?.[1];
        const apiMetrics = /Metrics \(Resources API\): +(http:\/\/\S+)/.exec(stdout)?.[1];
        const authMetrics = /Metrics \(auth server\): +(http:\/\/\S+)/.exec(stdout)?.[1];
        if (api && grpc && apiMetrics && authMetrics) resolve({ api, grpc, apiMetrics, authMetrics });
      });
      child.once("close", () => reject(new Error(`exited before ready:\n${stdout}`)));
    });
    // Internal ports of their own: not the public ones.
    const ports = [urls.api, `http://${urls.grpc}`, issuer].map((u) => new URL(u).port);
    expect(ports).not.toContain(new URL(urls.apiMetrics).port);
    expect(ports).not.toContain(new URL(urls.authMetrics).port);
    expect(new URL(urls.apiMetrics).port).not.toBe(new URL(urls.authMetrics).port);

    // A login with consent and offline access: a code mailed, consent granted, tokens issued.
    const user = await createUser(db.sql, { email: "metrics@example.test", permissions: ["dashboard:read"], projects: [{ name: "Metrics", role: "member" }] });
    const app = await createClient(db.sql, { name: "Metrics App", confidential: true, allowedScopes: ["openid", "offline_access", "dashboard:read"] });
    const rp = await relyingParty(issuer, app);
    const start = await authorizationUrl(rp, app, { scope: "openid offline_access dashboard:read", prompt: "consent" });
    const { callback, consented } = await browserLogin(new Browser(issuer), smtp, start, user.email);
    expect(consented).toBe(true);
    const tokens = await exchange(rp, start, callback);
    const token = async (form: Record<string, string>) =>
      fetch(`${issuer}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString("base64")}` },
        body: new URLSearchParams(form).toString(),
      });
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
    // Past the reuse leeway, the rotated token presented again is reuse: the grant is revoked.
    await db.sql`update altalune_oidc_models set consumed_at = consumed_at - interval '1 hour' where model = 'RefreshToken' and id = ${sha256Hex(tokens.refresh_token!)}`;
    expect((await token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token! })).status).toBe(400);
    // The fourth token request of this client and address within the minute: over the limit.
    expect((await token({ grant_type: "refresh_token", refresh_token: "not-a-token" })).status).toBe(429);

    // The API: Connect and native gRPC with the token (user state: a miss, then a hit), one anonymous call.
    const connect = await fetch(`${urls.api}/altalune.v1.ProjectService/QueryProjects`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.access_token}` },
      body: JSON.stringify({ query: { pagination: { page: 1, pageSize: 10 } } }),
    });
    expect(connect.status, await connect.clone().text()).toBe(200);
    expect(await grpcStatus(urls.grpc, `Bearer ${tokens.access_token}`)).toBe("0");
    expect(await grpcStatus(urls.grpc)).toBe("16");

    const api = await scrape(urls.apiMetrics);
    const auth = await scrape(urls.authMetrics);

    // Resources API.
    const query = { service: "altalune.v1.ProjectService", method: "QueryProjects" };
    expect(sampleValue(api, "altalune_rpc_calls_total", { ...query, transport: "connect", code: "OK" })).toBe(1);
    expect(sampleValue(api, "altalune_rpc_calls_total", { ...query, transport: "grpc-js", code: "OK" })).toBe(1);
    expect(sampleValue(api, "altalune_rpc_calls_total", { ...query, transport: "grpc-js", code: "Unauthenticated" })).toBe(1);
    expect(api.get("altalune_rpc_call_duration_seconds")?.type).toBe("histogram");
    expect(sampleValue(api, "altalune_rpc_call_duration_seconds_count", { ...query, transport: "grpc-js" })).toBe(2);
    expect(sampleValue(api, "altalune_rpc_call_duration_seconds_bucket", { ...query, transport: "connect", le: "+Inf" })).toBe(1);
    expect(sampleValue(api, "altalune_rpc_call_duration_seconds_sum", { ...query, transport: "connect" })).toBeGreaterThan(0);
    expect(sampleValue(api, "altalune_rpc_calls_in_flight")).toBe(0);
    expect(sampleValue(api, "altalune_rpc_auth_refusals_total", { status: "unauthenticated", reason: "missing" })).toBe(1);
    expect(sampleValue(api, "altalune_jwks_refreshes_total", { result: "ok" })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(api, "altalune_user_state_cache_misses_total")).toBe(1);
    expect(sampleValue(api, "altalune_user_state_cache_hits_total")).toBe(1);
    expect(sampleValue(api, "altalune_db_pool_max")).toBe(20);
    expect(sampleValue(api, "altalune_db_pool_in_use") + sampleValue(api, "altalune_db_pool_idle")).toBe(20);
    expect(sampleValue(api, "altalune_db_pool_waiting")).toBe(0);
    expect(sampleValue(api, "altalune_db_query_duration_seconds_count", { kind: "select", result: "ok" })).toBeGreaterThan(0);
    for (const [, family] of api) for (const s of family.samples) expect(s.labels["app"], s.name).toBe("resources");

    // Auth server.
    expect(sampleValue(auth, "altalune_auth_login_codes_total", { result: "sent" })).toBe(1);
    expect(sampleValue(auth, "altalune_auth_logins_total", { method: "email_code", result: "success" })).toBe(1);
    expect(sampleValue(auth, "altalune_auth_consents_total", { action: "granted" })).toBe(1);
    expect(sampleValue(auth, "altalune_auth_token_grants_total", { grant_type: "authorization_code", result: "success" })).toBe(1);
    expect(sampleValue(auth, "altalune_auth_token_grants_total", { grant_type: "refresh_token", result: "success" })).toBe(1);
    expect(sampleValue(auth, "altalune_auth_token_grants_total", { grant_type: "refresh_token", result: "invalid_grant" })).toBe(1);
    expect(sampleValue(auth, "altalune_auth_refresh_token_reuse_total")).toBe(1);
    expect(sampleValue(auth, "altalune_auth_rate_limit_hits_total", { bucket: "oauth_endpoint:/oauth/token" })).toBe(1);
    const keyAge = sampleValue(auth, "altalune_auth_signing_key_age_seconds");
    expect(keyAge).toBeGreaterThanOrEqual(0);
    expect(keyAge).toBeLessThan(600);
    expect(sampleValue(auth, "altalune_http_requests_total", { route: "/interaction/:uid/code", method: "POST", status_class: "3xx" })).toBe(1);
    expect(sampleValue(auth, "altalune_http_requests_total", { route: "/oauth/token", method: "POST", status_class: "2xx" })).toBe(2);
    expect(sampleValue(auth, "altalune_http_requests_total", { route: "/oauth/token", method: "POST", status_class: "4xx" })).toBe(2);
    expect(sampleValue(auth, "altalune_http_request_duration_seconds_count", { route: "/oauth/authorize", method: "GET" })).toBeGreaterThanOrEqual(1);
    for (const [, family] of auth) for (const s of family.samples) expect(s.labels["app"], s.name).toBe("auth");

    // Each port only its own app's series, both with the default process metrics.
    const names = (m: Map<string, Family>) => [...m.keys()];
    expect(names(api).filter((n) => n.startsWith("altalune_auth_") || n.startsWith("altalune_http_"))).toEqual([]);
    expect(names(auth).filter((n) => n.startsWith("altalune_rpc_") || n.startsWith("altalune_db_") || n.startsWith("altalune_jwks"))).toEqual([]);
    for (const m of [api, auth]) {
      expect(m.get("process_cpu_user_seconds_total")?.type).toBe("counter");
      expect(m.get("nodejs_eventloop_lag_seconds")?.type).toBe("gauge");
    }

    // No label value is an id, a path with an id, an address, a token or a configured name.
    const values = [...labelValues(api), ...labelValues(auth)];
    const secrets = [user.publicId, user.email, app.clientId, app.clientSecret!, tokens.access_token, tokens.refresh_token!, "Metrics App", "Metrics"];
    for (const v of values) {
      expect(secrets, v).not.toContain(v);
      expect(v).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-|@|\/interaction\/[^:]/);
    }
    for (const route of new Set(auth.get("altalune_http_requests_total")!.samples.map((s) => s.labels["route"]!))) {
      expect(route).toMatch(/^(\/[a-z0-9._:-]*)+$|^unmatched$/);
    }

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("METRICS_PORT / AUTH_METRICS_PORT=off serve nothing; the metrics port answers only GET /metrics; the public port has no /metrics", async () => {
    const api = await startTestApi({ METRICS_PORT: "off" });
    cleanup.push(() => api.close());
    expect(api.server.metricsPort).toBeUndefined();
    const authApp = await startTestAuth({ env: { AUTH_METRICS_PORT: "off" } });
    cleanup.push(() => authApp.close());
    expect(authApp.server.metricsPort).toBeUndefined();
    expect((await fetch(`${api.baseUrl.replace(/\/api$/, "")}/metrics`)).status).toBe(404);
    expect((await fetch(`${authApp.server.url}/metrics`)).status).toBe(404);

    const registry = createMetricsRegistry("test");
    expect(await startMetricsServer(registry, "off", "127.0.0.1")).toBeUndefined();
    const served = await startMetricsServer(registry, 0, "127.0.0.1");
    cleanup.push(() => served!.close());
    const base = `http://127.0.0.1:${served!.port}`;
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("METRICS_PORT and AUTH_METRICS_PORT: a port, 0 or off; 9464/9465 by default outside tests; anything else is refused by name", () => {
    expect(loadConfig({ NODE_ENV: "development" })).toMatchObject({ metricsPort: 9464, auth: { metricsPort: 9465 } });
    expect(loadConfig({ NODE_ENV: "test" })).toMatchObject({ metricsPort: 0, auth: { metricsPort: 0 } });
    expect(loadConfig({ METRICS_PORT: "off", AUTH_METRICS_PORT: "9100" })).toMatchObject({ metricsPort: "off", auth: { metricsPort: 9100 } });
    expect(loadConfig({ NODE_ENV: "development", METRICS_PORT: "0" }).metricsPort).toBe(0);
    for (const bad of ["on", "-1", "70000", "9464x"]) {
      expect(() => loadConfig({ METRICS_PORT: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ AUTH_METRICS_PORT: bad })).toThrow(/AUTH_METRICS_PORT/);
    }
  });
});
