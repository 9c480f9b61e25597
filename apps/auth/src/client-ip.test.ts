import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as oidc from "openid-client";
import { createClient, createUser, startTestAuth, type TestAuth, type TestClient } from "./testing/auth-harness.js";
import { Browser } from "./testing/browser.js";
import { authorizationUrl, relyingParty, startLogin } from "./testing/login-flow.js";

// Per-IP limits must count the real client, not whatever it writes into X-Forwarded-For: with one
// trusted proxy, only the right-most entry (the one the proxy appended) is the client.

let auth: TestAuth;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;

beforeAll(async () => {
  auth = await startTestAuth({
    env: { TRUSTED_PROXY_HOPS: "1" },
    server: { loginCodeLimits: { perIp: { limit: 2, windowSeconds: 900 } } },
  });
  app = await createClient(auth.sql);
  rp = await relyingParty(auth.issuer, app);
});

afterAll(async () => {
  await auth?.close();
});

async function requestCode(forwardedFor: string): Promise<number> {
  const user = await createUser(auth.sql, { email: `ip-${++seq}@example.test` });
  const browser = new Browser(auth.issuer, { "x-forwarded-for": forwardedFor });
  const page = await startLogin(browser, await authorizationUrl(rp, app), user.email);
  return page.status;
}

describe("client address behind a trusted proxy", () => {
  it("ignores entries a client prepends to X-Forwarded-For", async () => {
    expect(await requestCode("1.1.1.1, 203.0.113.7")).toBe(200);
    expect(await requestCode("2.2.2.2, 203.0.113.7")).toBe(200);
    // Same real client, a third spoofed prefix: the per-IP limit (2) holds.
    expect(await requestCode("3.3.3.3, 203.0.113.7")).toBe(429);
    // Another real client is not affected.
    expect(await requestCode("3.3.3.3, 198.51.100.9")).toBe(200);
  });
});
