import { freePort, startTestAuth, TEST_API_AUDIENCE, TEST_ENCRYPTION_KEY, type TestAuth } from "@altalune/auth/testing";
import { startTestApi, TEST_ENV, type TestApi } from "@altalune/resources/testing";
import { issueAccessToken } from "@altalune/auth";
import { DIST_DIR, ensureWebBuild } from "../build.js";
import { startWebServer, type WebRuntimeConfig, type WebServer } from "../serve.js";

/**
 * The whole system as a browser sees it, in this process on ephemeral ports: the auth server
 * (with the BFF and a real SMTP receiver), the Resources API on the same database, and the built
 * web client. Everything is addressed as `localhost`, as in development: the page, the BFF and
 * the API are one site (ports do not make sites), so the browser sends the SameSite cookies.
 */
export interface WebSystem {
  auth: TestAuth;
  api: TestApi;
  web: WebServer;
  /** http://localhost:<port>: the web client's origin, the only allowed one. */
  origin: string;
  /** http://localhost:<port>/api: the Resources API as the browser calls it. */
  apiUrl: string;
  runtimeConfig: WebRuntimeConfig;
  /** An access token of the seeded superadmin from the real auth server (for test set-up through the API). */
  adminToken(): Promise<string>;
  close(): Promise<void>;
}

export async function startWebSystem(opts: { env?: Record<string, string> } = {}): Promise<WebSystem> {
  await ensureWebBuild();
  const [authPort, webPort] = [await freePort(), await freePort()];
  const origin = `http://localhost:${webPort}`;
  const shared = {
    DASHBOARD_CLIENT_ID: TEST_ENV["DASHBOARD_CLIENT_ID"]!,
    DASHBOARD_CLIENT_SECRET: TEST_ENV["DASHBOARD_CLIENT_SECRET"]!,
    DASHBOARD_REDIRECT_URIS: `${origin}/auth/callback`,
    ALLOWED_ORIGINS: origin,
    ...opts.env,
  };
  const auth = await startTestAuth({ port: authPort, env: { ...shared, AUTH_ISSUER: `http://localhost:${authPort}` } });
  let api: TestApi | undefined;
  try {
    // Seeds the superadmin, the default project and the dashboard client (with this origin's
    // redirect URI) into the auth server's database, and trusts the auth server's tokens.
    api = await startTestApi(
      { ...shared, AUTH_ISSUER: auth.issuer, API_AUDIENCE: TEST_API_AUDIENCE, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64") },
      { db: auth.db },
    );
    const apiUrl = `http://localhost:${api.server.connectPort}/api`;
    const runtimeConfig: WebRuntimeConfig = { apiUrl, authUrl: auth.issuer, bffUrl: auth.issuer, clientId: shared.DASHBOARD_CLIENT_ID };
    const web = await startWebServer({ distDir: DIST_DIR, runtimeConfig, port: webPort, host: "127.0.0.1", canonicalHost: "localhost" });
    const started = api;
    return {
      auth,
      api: started,
      web,
      origin,
      apiUrl,
      runtimeConfig,
      adminToken: async () => (await issueAccessToken({ sql: auth.sql, config: auth.config, email: started.superadmin.email, ttlSeconds: 300 })).token,
      async close() {
        await web.close();
        await started.close();
        await auth.close();
      },
    };
  } catch (e) {
    await api?.close();
    await auth.close();
    throw e;
  }
}
