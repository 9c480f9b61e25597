import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "@altalune/core";
import { createClient, startTestAuth, type TestAuth, type TestClient } from "./testing/auth-harness.js";
import { purgeExpired } from "./provider/pg-adapter.js";
import { rotateSigningKey } from "./provider/signing-keys.js";

// The provider core: discovery, JWKS shared by replicas, client credentials for confidential
// clients, client authentication, client changes reaching the server, purge of expired rows.

let auth: TestAuth;
let confidential: TestClient;

beforeAll(async () => {
  auth = await startTestAuth();
  confidential = await createClient(auth.sql, { confidential: true });
});

afterAll(async () => {
  await auth?.close();
});

async function clientCredentials(client: TestClient, secret = client.clientSecret!, base = auth.issuer): Promise<Response> {
  return fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "" }).toString(),
  });
}

describe("discovery and keys", () => {
  it("advertises the original endpoint paths and only what the server supports", async () => {
    const res = await fetch(`${auth.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    const iss = auth.issuer;
    expect(doc).toMatchObject({
      issuer: iss,
      authorization_endpoint: `${iss}/oauth/authorize`,
      token_endpoint: `${iss}/oauth/token`,
      userinfo_endpoint: `${iss}/oauth/userinfo`,
      revocation_endpoint: `${iss}/oauth/revoke`,
      introspection_endpoint: `${iss}/oauth/introspect`,
      end_session_endpoint: `${iss}/oauth/end_session`,
      jwks_uri: `${iss}/.well-known/jwks.json`,
      response_types_supported: ["code"],
      code_challenge_methods_supported: ["S256"],
    });
    expect(doc["scopes_supported"]).toEqual(expect.arrayContaining(["openid", "profile", "email", "offline_access"]));
    expect(doc["grant_types_supported"]).toEqual(expect.arrayContaining(["authorization_code", "refresh_token", "client_credentials"]));
    expect(doc["grant_types_supported"]).not.toContain("urn:ietf:params:oauth:grant-type:device_code");
    expect(doc).not.toHaveProperty("dpop_signing_alg_values_supported");
    expect(doc).not.toHaveProperty("registration_endpoint");
    // openid-client discovers it as a third party would.
    const config = await oidc.discovery(new URL(iss), confidential.clientId, confidential.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
    expect(config.serverMetadata().jwks_uri).toBe(`${iss}/.well-known/jwks.json`);
  });

  it("publishes public RSA keys only, and the same JWKS from two servers on one database", async () => {
    const replica = await auth.startReplica();
    const [a, b] = await Promise.all(
      [auth.issuer, replica.url].map(async (base) => (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] }),
    );
    expect(a!.keys.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
    for (const key of a!.keys) {
      expect(key).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
      for (const privatePart of ["d", "p", "q", "dp", "dq", "qi"]) expect(key).not.toHaveProperty(privatePart);
    }
    // The private half is sealed at rest.
    const [row] = await auth.sql<{ private_jwk_sealed: string }[]>`select private_jwk_sealed from altalune_auth_signing_keys limit 1`;
    expect(row!.private_jwk_sealed).toMatch(/^v1\./);
    expect(row!.private_jwk_sealed).not.toContain('"d"');
  });

  it("health answers", async () => {
    const res = await fetch(`${auth.issuer}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("client credentials", () => {
  it("issues a JWT for the API audience to a confidential client", async () => {
    const res = await clientCredentials(confidential);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(auth.config.auth.accessTokenTtlSeconds);
    const jwks = createRemoteJWKSet(new URL(`${auth.issuer}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, {
      issuer: auth.issuer,
      audience: auth.config.auth.apiAudience,
      typ: "at+jwt",
    });
    expect(protectedHeader.alg).toBe("RS256");
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(payload).toMatchObject({ client_id: confidential.clientId, sub: confidential.clientId });
    expect(payload.jti).toEqual(expect.any(String));
  });

  it("refuses a wrong secret, an unknown client, and a public client", async () => {
    const wrong = await clientCredentials(confidential, "not-the-secret");
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toBe("invalid_client");

    const unknown = await clientCredentials({ clientId: "7c0e5a80-1111-4222-8333-944455556666", clientSecret: "x", redirectUri: "" });
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { error: string }).error).toBe("invalid_client");

    const notUuid = await clientCredentials({ clientId: "nope", clientSecret: "x", redirectUri: "" });
    expect(notUuid.status).toBe(401);

    const pub = await createClient(auth.sql, { confidential: false });
    const res = await fetch(`${auth.issuer}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: pub.clientId }).toString(),
    });
    expect(res.status).toBe(400);
    const refused = (await res.json()) as { error: string; error_description: string };
    expect(refused).toEqual({ error: "invalid_request", error_description: "requested grant type is not allowed for this client" });
  });

  it("sees a client's deletion and new secret within the cache bound", async () => {
    const client = await createClient(auth.sql, { confidential: true });
    expect((await clientCredentials(client)).status).toBe(200);
    await auth.sql`delete from altalune_oauth_clients where client_id = ${client.clientId}`;
    const deadline = Date.now() + 5_000;
    let status = 200;
    while (Date.now() < deadline && status === 200) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await clientCredentials(client)).status;
    }
    expect(status).toBe(401);
  });
});

describe("signing key rotation", () => {
  it("signs with the new key after rotation while the old key stays published", async () => {
    const before = (await (await clientCredentials(confidential)).json()) as { access_token: string };
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const { kid: newKid } = await rotateSigningKey(auth.sql, auth.config.encryptionKey!, { activationDelaySeconds: 0, retentionSeconds: 3600 });
    await auth.server.refreshKeys();
    const after = (await (await clientCredentials(confidential)).json()) as { access_token: string };
    expect(decodeProtectedHeader(after.access_token).kid).toBe(newKid);
    const jwks = (await (await fetch(`${auth.issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    const keys = createLocalJWKSet(jwks as never);
    await expect(jwtVerify(before.access_token, keys, { issuer: auth.issuer })).resolves.toBeTruthy();
    await expect(jwtVerify(after.access_token, keys, { issuer: auth.issuer })).resolves.toBeTruthy();
  });

  it("reaches a running replica through its key poll", async () => {
    const replica = await auth.startReplica({ keyPollMs: 100 });
    const { kid } = await rotateSigningKey(auth.sql, auth.config.encryptionKey!, { activationDelaySeconds: 0, retentionSeconds: 3600 });
    const deadline = Date.now() + 3_000;
    let kids: string[] = [];
    while (Date.now() < deadline) {
      kids = ((await (await fetch(`${replica.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      if (kids[0] === kid) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(kids[0]).toBe(kid);
    await auth.server.refreshKeys();
  });

  it("announces a delayed key before signing with it, and prunes keys past retention", async () => {
    const current = (await (await fetch(`${auth.issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    const signer = current.keys[0]!.kid;
    const { kid: pending } = await rotateSigningKey(auth.sql, auth.config.encryptionKey!, { activationDelaySeconds: 3600, retentionSeconds: 3600 });
    await auth.server.refreshKeys();
    const jwks = (await (await fetch(`${auth.issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(pending);
    const token = (await (await clientCredentials(confidential)).json()) as { access_token: string };
    expect(decodeProtectedHeader(token.access_token).kid).toBe(signer);
    // Retention 0: every key but the signer and the pending one is forgotten.
    const { pruned } = await rotateSigningKey(auth.sql, auth.config.encryptionKey!, { activationDelaySeconds: 7200, retentionSeconds: 0 });
    expect(pruned.length).toBeGreaterThan(0);
    const left = await auth.sql<{ kid: string }[]>`select kid from altalune_auth_signing_keys`;
    expect(left.map((r) => r.kid)).toContain(signer);
    expect(left.map((r) => r.kid)).toContain(pending);
    expect(left).toHaveLength(3);
  });
});

describe("storage", () => {
  it("purges expired rows, one instance at a time", async () => {
    await auth.sql`
      insert into altalune_oidc_models (model, id, payload, expires_at)
      values ('AccessToken', ${sha256Hex("expired-1")}, '{}', now() - interval '1 minute'),
             ('AccessToken', ${sha256Hex("expired-2")}, '{}', now() - interval '1 minute'),
             ('AccessToken', ${sha256Hex("alive")}, '{}', now() + interval '1 hour')`;
    const [a, b] = await Promise.all([purgeExpired(auth.sql, 1), purgeExpired(auth.sql, 1)]);
    expect(a! + b!).toBe(2);
    const left = await auth.sql`select id from altalune_oidc_models where id in (${sha256Hex("expired-1")}, ${sha256Hex("alive")})`;
    expect(left).toHaveLength(1);
  });
});
