import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalCallerSecret } from "../provider/derived-secrets.js";
import { createClient, startTestAuth, TEST_ENCRYPTION_KEY, type TestAuth, type TestClient } from "../testing/auth-harness.js";
import { INTERNAL_CALLER_HEADER } from "./endpoint-limits.js";

// TOKEN_RATE_LIMIT_PER_MINUTE on the token, introspection and revocation endpoints.

let auth: TestAuth;
beforeAll(async () => {
  auth = await startTestAuth({ env: { TOKEN_RATE_LIMIT_PER_MINUTE: "3" } });
});
afterAll(async () => {
  await auth?.close();
});

function post(path: string, client: TestClient, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${auth.issuer}/oauth/${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`,
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  });
}

describe("token endpoint rate limits", () => {
  it("allow the configured calls per client and address, then 429 with Retry-After; other clients are not affected", async () => {
    const a = await createClient(auth.sql);
    const b = await createClient(auth.sql);
    for (let i = 0; i < 3; i++) expect((await post("token", a, { grant_type: "client_credentials" })).status).toBe(200);
    const refused = await post("token", a, { grant_type: "client_credentials" });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: "rate_limited" });
    // A wrong secret is counted too (guessing is throttled), and answers 429 once spent.
    expect((await post("token", { ...a, clientSecret: "wrong" }, { grant_type: "client_credentials" })).status).toBe(429);
    expect((await post("token", b, { grant_type: "client_credentials" })).status).toBe(200);
    // Introspection and revocation have budgets of their own.
    for (let i = 0; i < 3; i++) expect((await post("introspect", b, { token: "x" })).status).toBe(200);
    expect((await post("introspect", b, { token: "x" })).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await post("revoke", b, { token: "x" })).status).toBe(200);
    expect((await post("revoke", b, { token: "x" })).status).toBe(429);
  });

  it("skip the BFF's own calls (counted per end user at the BFF), but only with the right secret", async () => {
    const c = await createClient(auth.sql);
    const internal = { [INTERNAL_CALLER_HEADER]: internalCallerSecret(TEST_ENCRYPTION_KEY) };
    for (let i = 0; i < 5; i++) expect((await post("token", c, { grant_type: "client_credentials" }, internal)).status).toBe(200);
    const forged = { [INTERNAL_CALLER_HEADER]: "not-the-secret" };
    for (let i = 0; i < 3; i++) expect((await post("token", c, { grant_type: "client_credentials" }, forged)).status).toBe(200);
    expect((await post("token", c, { grant_type: "client_credentials" }, forged)).status).toBe(429);
  });
});
