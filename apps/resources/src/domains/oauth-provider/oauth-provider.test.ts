import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, type HandlerContext } from "@connectrpc/connect";
import { newPublicId, openSecret, OutboundPolicy } from "@altalune/core";
import { runPostMigrate, type Sql } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { captureLogger, TEST_OTHER_ENCRYPTION_KEY } from "@altalune/test-kit";
import {
  CreateOAuthProviderRequestSchema,
  CreateOAuthProviderResponseSchema,
  DeleteOAuthProviderRequestSchema,
  GetOAuthProviderResponseSchema,
  OAuthProviderService,
  ProviderType,
  QueryOAuthProvidersResponseSchema,
  SortOrder,
  UpdateOAuthProviderRequestSchema,
  UpdateOAuthProviderResponseSchema,
  UserService,
} from "@altalune/proto";
import { startTestApi, TEST_ENV, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { findProviderBySlug, listEnabledProviders, ProviderConfigError } from "@altalune/oauth-tables";
import { OAuthProviderRepo } from "./repo.js";
import { OAuthProviderService as OAuthProviderServiceImpl } from "./service.js";

const log = captureLogger("trace");
const logLines = log.lines;
/** Every secret given to the API: none may ever appear in a response or a log line. */
const secrets: string[] = [];
let counter = 0;
/** A distinctive secret, remembered for the log check. */
function newSecret(label: string): string {
  const s = `psecret-${label}-${++counter}-${Math.random().toString(36).slice(2, 12)}`;
  secrets.push(s);
  return s;
}

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ LOG_LEVEL: "trace" }, { logger: log.logger });
});
afterAll(async () => {
  await api?.close();
});

const providers = (transport: TransportName = "connect-json") => api.client(OAuthProviderService, transport);
const SMOKE_TRANSPORTS = ["connect-json", "grpc-js"] as const;
const PUBLIC_ID = /^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/;

/**
 * What the original dashboard's edit form sends back unchanged: client_id, scopes and enabled are
 * always set by an update (redirect_url too, which must be the server's callback or empty).
 */
const kept = (p: { id: string; clientId: string; scopes: string; enabled: boolean; redirectUrl: string }) => ({
  id: p.id,
  clientId: p.clientId,
  scopes: p.scopes,
  enabled: p.enabled,
  redirectUrl: p.redirectUrl,
});

async function storedRow(sql: Sql, publicId: string) {
  const [row] = await sql<{ client_secret_sealed: string; r: string }[]>`
    select client_secret_sealed, t::text as r from altalune_oauth_providers t where public_id = ${publicId}`;
  if (row === undefined) throw new Error(`no provider ${publicId}`);
  return row;
}
const snapshot = () => api.db.sql<{ t: string }[]>`select t::text from altalune_oauth_providers t order by id`;

/** Each transport configures its own fixed type (one provider per type in the shared database). */
const FIXED_BY_TRANSPORT = {
  "connect-json": { type: ProviderType.GOOGLE, slug: "google", name: "Google", issuer: "https://accounts.google.com" },
  "grpc-js": { type: ProviderType.MICROSOFT, slug: "microsoft", name: "Microsoft", issuer: "https://login.microsoftonline.com/common/v2.0" },
} as const;

describe.each(SMOKE_TRANSPORTS)("OAuthProviderService over %s", (transport) => {
  const fixed = FIXED_BY_TRANSPORT[transport];

  it("creates a provider with the type's defaults; the secret is sealed at rest and only revealed on demand", async () => {
    const c = providers(transport);
    const secret = newSecret(fixed.slug);
    const created = await c.createOAuthProvider({ providerType: fixed.type, clientId: `  ${fixed.slug}-client.apps  `, clientSecret: ` ${secret} `, enabled: true });
    expect(created.message).toBe("OAuth provider created successfully");
    const p = created.provider!;
    expect(p).toMatchObject({
      providerType: fixed.type,
      slug: fixed.slug,
      displayName: fixed.name,
      clientId: `${fixed.slug}-client.apps`,
      clientSecretSet: true,
      scopes: "openid,email,profile",
      enabled: true,
      redirectUrl: `${api.config.auth.issuer.replace(/\/$/, "")}/login/${fixed.slug}/callback`,
      issuerUrl: "",
      authorizationEndpoint: "",
      tokenEndpoint: "",
      userinfoEndpoint: "",
    });
    expect(p.id).toMatch(PUBLIC_ID);
    expect(toJsonString(CreateOAuthProviderResponseSchema, created)).not.toContain(secret);

    const got = await c.getOAuthProvider({ id: p.id });
    expect(got.provider).toEqual(p);
    expect(toJsonString(GetOAuthProviderResponseSchema, got)).not.toContain(secret);
    const listed = await c.queryOAuthProviders({ query: { pagination: { page: 1, pageSize: 100 } } });
    expect(listed.data.map((x) => x.id)).toContain(p.id);
    expect(toJsonString(QueryOAuthProvidersResponseSchema, listed)).not.toContain(secret);
    // No query at all: page 1 of 10, as in the original.
    expect((await c.queryOAuthProviders({})).data.map((x) => x.id)).toContain(p.id);

    // At rest: sealed under ENCRYPTION_KEY with the provider's public id as context, trimmed.
    const row = await storedRow(api.db.sql, p.id);
    expect(row.client_secret_sealed).toMatch(/^v1\./);
    expect(row.r).not.toContain(secret);
    const key = api.config.encryptionKey!;
    expect(openSecret(key, row.client_secret_sealed, `oauth_provider:${p.id}`)).toBe(secret);
    expect(() => openSecret(key, row.client_secret_sealed, "oauth_provider:zzzzzzzzzzzzzz")).toThrow();

    expect(await c.revealClientSecret({ id: p.id })).toMatchObject({
      clientSecret: secret,
      message: "Client secret revealed. This action has been logged for audit purposes.",
    });
  });

  it("updates set client_id, scopes and enabled; the other fields only when sent; an empty secret keeps the stored one", async () => {
    const c = providers(transport);
    const [existing] = (await c.queryOAuthProviders({ query: { pagination: { page: 1, pageSize: 10 }, filters: { slug: { values: [fixed.slug] } } } })).data;
    const before = await storedRow(api.db.sql, existing!.id);
    const oldSecret = await c.revealClientSecret({ id: existing!.id });

    const renamed = await c.updateOAuthProvider({ ...kept(existing!), displayName: `  Sign in with ${fixed.name} `, clientSecret: "" });
    expect(renamed.message).toBe("OAuth provider updated successfully");
    expect(renamed.provider).toMatchObject({ ...existing, displayName: `Sign in with ${fixed.name}`, updatedAt: expect.anything() });
    // Same ciphertext: the secret was not touched.
    expect((await storedRow(api.db.sql, existing!.id)).client_secret_sealed).toBe(before.client_secret_sealed);
    expect((await c.revealClientSecret({ id: existing!.id })).clientSecret).toBe(oldSecret.clientSecret);

    const secret = newSecret(`${fixed.slug}-rotated`);
    const rewired = await c.updateOAuthProvider({
      id: existing!.id,
      clientId: "new-client-id",
      clientSecret: secret,
      scopes: " offline_access, openid ,",
      enabled: false,
      issuerUrl: "http://127.0.0.1:9999/tenant",
    });
    expect(toJsonString(UpdateOAuthProviderResponseSchema, rewired)).not.toContain(secret);
    expect(rewired.provider).toMatchObject({
      providerType: fixed.type,
      slug: fixed.slug,
      clientId: "new-client-id",
      // What was sent, trimmed, then the base scopes sign-in needs that were missing.
      scopes: "offline_access,openid,email,profile",
      enabled: false,
      issuerUrl: "http://127.0.0.1:9999/tenant",
      displayName: `Sign in with ${fixed.name}`,
      createdAt: existing!.createdAt,
    });
    const after = await storedRow(api.db.sql, existing!.id);
    expect(after.client_secret_sealed).not.toBe(before.client_secret_sealed);
    expect(openSecret(api.config.encryptionKey!, after.client_secret_sealed, `oauth_provider:${existing!.id}`)).toBe(secret);
    expect((await c.revealClientSecret({ id: existing!.id })).clientSecret).toBe(secret);

    // An empty override goes back to the default issuer; absent fields stay; an empty scopes
    // string means no extra scopes (only the base ones), as in the original.
    const reset = await c.updateOAuthProvider({ id: existing!.id, clientId: "new-client-id", issuerUrl: "", scopes: "", enabled: true });
    expect(reset.provider).toMatchObject({ issuerUrl: "", clientId: "new-client-id", enabled: true, scopes: "openid,email,profile", displayName: `Sign in with ${fixed.name}` });
    expect((await api.db.sql<{ scopes: string[] }[]>`select scopes from altalune_oauth_providers where public_id = ${existing!.id}`)[0]?.scopes).toEqual(["openid", "email", "profile"]);
  });

  it("pointing a provider at another issuer unlinks its identities; other changes keep them", async () => {
    const c = providers(transport);
    const slug = `moved-${transport.replace(/[^a-z]/g, "")}`;
    const p = (await c.createOAuthProvider({ providerType: ProviderType.OIDC, slug, issuerUrl: "https://idp.example.com", clientId: "x", clientSecret: newSecret(slug) })).provider!;
    const sql = api.db.sql;
    await sql`
      insert into altalune_user_identities (public_id, user_id, provider, provider_user_id)
      select ${newPublicId()}, id, ${slug}, ${`sub-${slug}`} from altalune_users where public_id = ${api.superadmin.publicId}`;
    await c.updateOAuthProvider({ ...kept(p), displayName: "Renamed", clientId: "y" });
    expect(await sql`select 1 from altalune_user_identities where provider = ${slug}`).toHaveLength(1);
    await c.updateOAuthProvider({ ...kept(p), issuerUrl: "https://other-idp.example.com" });
    expect(await sql`select 1 from altalune_user_identities where provider = ${slug}`).toHaveLength(0);
  });

  it("deletes for good; identities linked through the provider are unlinked (the users stay)", async () => {
    const c = providers(transport);
    const slug = `gone-${transport.replace(/[^a-z]/g, "")}`;
    const p = (await c.createOAuthProvider({ providerType: ProviderType.OIDC, slug, issuerUrl: "https://idp.example.com", clientId: "x", clientSecret: newSecret(slug) })).provider!;
    const sql = api.db.sql;
    await sql`
      insert into altalune_user_identities (public_id, user_id, provider, provider_user_id)
      select ${newPublicId()}, id, ${slug}, ${`sub-${slug}`} from altalune_users where public_id = ${api.superadmin.publicId}`;

    expect(await c.deleteOAuthProvider({ id: p.id })).toEqual(expect.objectContaining({ message: "OAuth provider deleted successfully" }));
    expect(await sql`select 1 from altalune_oauth_providers where public_id = ${p.id}`).toHaveLength(0);
    expect(await sql`select 1 from altalune_user_identities where provider = ${slug}`).toHaveLength(0);
    expect(await sql`select 1 from altalune_users where public_id = ${api.superadmin.publicId}`).toHaveLength(1);
    for (const call of [() => c.getOAuthProvider({ id: p.id }), () => c.deleteOAuthProvider({ id: p.id }), () => c.revealClientSecret({ id: p.id })]) {
      const e = await callError(call());
      expect(e.code).toBe(Code.NotFound);
      expect(e.rawMessage).toBe(`OAuth provider with ID '${p.id}' not found`);
      expect(detailOf(e)).toEqual({ code: "60810", meta: { provider_id: p.id } });
    }
    // The slug is free again.
    const again = await c.createOAuthProvider({ providerType: ProviderType.OIDC, slug, issuerUrl: "https://idp.example.com", clientId: "x", clientSecret: newSecret(slug) });
    await c.deleteOAuthProvider({ id: again.provider!.id });
  });
});

describe("provider types", () => {
  it("github: its own scopes, endpoint overrides (http on loopback), no issuer", async () => {
    const c = providers("grpc-js");
    const created = await c.createOAuthProvider({
      providerType: ProviderType.GITHUB,
      slug: "github",
      clientId: "Iv1.github",
      clientSecret: newSecret("github"),
      authorizationEndpoint: "http://127.0.0.1:4010/login/oauth/authorize",
      tokenEndpoint: "http://localhost:4010/login/oauth/access_token",
      userinfoEndpoint: "http://[::1]:4010/api/v3/user",
      enabled: true,
    });
    expect(created.provider).toMatchObject({
      slug: "github",
      displayName: "GitHub",
      scopes: "read:user,user:email",
      authorizationEndpoint: "http://127.0.0.1:4010/login/oauth/authorize",
      tokenEndpoint: "http://localhost:4010/login/oauth/access_token",
      userinfoEndpoint: "http://[::1]:4010/api/v3/user",
      issuerUrl: "",
    });
    const cleared = await c.updateOAuthProvider({ ...kept(created.provider!), tokenEndpoint: "", authorizationEndpoint: "https://ghe.example.com/login/oauth/authorize?x=1" });
    expect(cleared.provider).toMatchObject({ tokenEndpoint: "", authorizationEndpoint: "https://ghe.example.com/login/oauth/authorize?x=1", userinfoEndpoint: "http://[::1]:4010/api/v3/user" });
  });

  it("apple: name and email scopes; an issuer override is accepted", async () => {
    const created = await providers().createOAuthProvider({
      providerType: ProviderType.APPLE,
      clientId: "com.example.service",
      clientSecret: newSecret("apple"),
      issuerUrl: "https://appleid.apple.com",
    });
    expect(created.provider).toMatchObject({ slug: "apple", displayName: "Apple", scopes: "name,email", issuerUrl: "https://appleid.apple.com", enabled: false });
  });

  it("oidc: several, each with its own slug; the display name defaults to the slug", async () => {
    const c = providers();
    const a = await c.createOAuthProvider({ providerType: ProviderType.OIDC, slug: "corp-sso", issuerUrl: "https://sso.corp.example/realms/main", clientId: "a", clientSecret: newSecret("corp") });
    const b = await c.createOAuthProvider({
      providerType: ProviderType.OIDC,
      slug: "partner",
      displayName: "Partner Login",
      issuerUrl: "http://127.0.0.1:4020",
      scopes: "openid,offline_access",
      clientId: "b",
      clientSecret: newSecret("partner"),
    });
    expect(a.provider).toMatchObject({ slug: "corp-sso", displayName: "corp-sso", scopes: "openid,email,profile", issuerUrl: "https://sso.corp.example/realms/main" });
    expect(b.provider).toMatchObject({ slug: "partner", displayName: "Partner Login", scopes: "openid,offline_access,email,profile", redirectUrl: expect.stringMatching(/\/login\/partner\/callback$/) });
  });
});

describe("bad input is refused identically on connect and grpc-js, and changes nothing", () => {
  type Client = ReturnType<typeof providers>;
  const fixtures: { oidc: string; github: string; apple: string } = { oidc: "", github: "", apple: "" };
  beforeAll(async () => {
    const c = providers();
    const all = (await c.queryOAuthProviders({ query: { pagination: { page: 1, pageSize: 100 } } })).data;
    fixtures.github = all.find((p) => p.slug === "github")!.id;
    fixtures.apple = all.find((p) => p.slug === "apple")!.id;
    fixtures.oidc = all.find((p) => p.slug === "corp-sso")!.id;
  });
  const oidc = { providerType: ProviderType.OIDC, slug: "new-idp", issuerUrl: "https://new.example.com", clientId: "cid", clientSecret: "not-stored-1" };
  const google = { providerType: ProviderType.GOOGLE, clientId: "cid", clientSecret: "not-stored-2" };
  const github = { ...google, providerType: ProviderType.GITHUB };
  const url = (issuerUrl: string) => (c: Client) => c.createOAuthProvider({ ...oidc, issuerUrl });
  type Case = { name: string; call: (c: Client) => Promise<unknown>; code?: Code; meta: Record<string, string>; detailCode?: string; message?: string };
  const cases: Case[] = [
    { name: "no type", call: (c) => c.createOAuthProvider({ ...oidc, providerType: ProviderType.UNSPECIFIED }), meta: { provider_type: "required" } },
    { name: "unknown type", call: (c) => c.createOAuthProvider({ ...oidc, providerType: 42 as ProviderType }), meta: { provider_type: "enum.defined_only" } },
    { name: "oidc without issuer", call: url(""), meta: { issuer_url: "issuer_url.required" }, message: "an oidc provider needs an issuer_url" },
    { name: "oidc without slug", call: (c) => c.createOAuthProvider({ ...oidc, slug: "" }), meta: { slug: "slug.required" } },
    { name: "reserved slug", call: (c) => c.createOAuthProvider({ ...oidc, slug: "email" }), meta: { slug: "slug.reserved" } },
    { name: "the seed's identity provider as slug", call: (c) => c.createOAuthProvider({ ...oidc, slug: "system" }), meta: { slug: "slug.reserved" } },
    { name: "a fixed type's slug for oidc", call: (c) => c.createOAuthProvider({ ...oidc, slug: "google" }), meta: { slug: "slug.reserved" } },
    { name: "upper-case slug", call: (c) => c.createOAuthProvider({ ...oidc, slug: "Corp" }), meta: { slug: "string.pattern" } },
    { name: "slug with a leading hyphen", call: (c) => c.createOAuthProvider({ ...oidc, slug: "-corp" }), meta: { slug: "string.pattern" } },
    { name: "slug too long", call: (c) => c.createOAuthProvider({ ...oidc, slug: "s".repeat(41) }), meta: { slug: "string.max_len" } },
    { name: "another slug for a fixed type", call: (c) => c.createOAuthProvider({ ...google, slug: "gmail" }), meta: { slug: "slug.fixed" } },
    { name: "http issuer off loopback", call: url("http://idp.example.com"), meta: { issuer_url: "url.https_required" } },
    { name: "ftp issuer", call: url("ftp://idp.example.com"), meta: { issuer_url: "url.scheme" }, message: "issuer_url must be an https URL: ftp://idp.example.com" },
    { name: "relative issuer", call: url("/realms/main"), meta: { issuer_url: "url.scheme" } },
    { name: "issuer with a query", call: url("https://idp.example.com/?tenant=1"), meta: { issuer_url: "url.no_query" } },
    { name: "issuer with a fragment", call: url("https://idp.example.com/#x"), meta: { issuer_url: "url.no_fragment" } },
    { name: "issuer with credentials", call: url("https://user:pw@idp.example.com"), meta: { issuer_url: "url.credentials" } },
    { name: "issuer without host", call: url("https:///realms"), meta: { issuer_url: "url.host" } },
    { name: "issuer with spaces", call: url("https://idp.example.com/a b"), meta: { issuer_url: "url.invalid" } },
    { name: "issuer too long", call: url(`https://idp.example.com/${"p".repeat(480)}`), meta: { issuer_url: "string.max_len" } },
    { name: "issuer for github", call: (c) => c.createOAuthProvider({ ...github, issuerUrl: "https://github.com" }), meta: { issuer_url: "field.not_applicable" } },
    { name: "endpoint for google", call: (c) => c.createOAuthProvider({ ...google, tokenEndpoint: "https://oauth2.googleapis.com/token" }), meta: { token_endpoint: "field.not_applicable" } },
    { name: "endpoint for oidc", call: (c) => c.createOAuthProvider({ ...oidc, userinfoEndpoint: "https://new.example.com/me" }), meta: { userinfo_endpoint: "field.not_applicable" } },
    { name: "bad github endpoint", call: (c) => c.createOAuthProvider({ ...github, authorizationEndpoint: "http://github.example.com/authorize" }), meta: { authorization_endpoint: "url.https_required" } },
    {
      name: "space-separated scopes",
      call: (c) => c.createOAuthProvider({ ...oidc, scopes: "openid email profile" }),
      meta: { scopes: "scopes.invalid_token" },
      message: "'openid email profile' is not a scope: scopes are separated by commas and contain no spaces, quotes or backslashes",
    },
    { name: "a quote in a scope", call: (c) => c.createOAuthProvider({ ...oidc, scopes: 'openid,"email"' }), meta: { scopes: "scopes.invalid_token" } },
    { name: "duplicate scopes", call: (c) => c.createOAuthProvider({ ...oidc, scopes: "openid, openid" }), meta: { scopes: "scopes.duplicate" }, message: "scope 'openid' is listed twice" },
    {
      name: "more than 20 scopes with the base ones",
      call: (c) => c.createOAuthProvider({ ...oidc, scopes: Array.from({ length: 18 }, (_, i) => `s${i}`).join(",") }),
      meta: { scopes: "scopes.too_many" },
    },
    { name: "scope too long", call: (c) => c.createOAuthProvider({ ...oidc, scopes: `openid,${"s".repeat(101)}` }), meta: { scopes: "scopes.token_too_long" } },
    { name: "scopes string too long", call: (c) => c.createOAuthProvider({ ...oidc, scopes: "s,".repeat(501) }), meta: { scopes: "string.max_len" } },
    { name: "no client id", call: (c) => c.createOAuthProvider({ ...oidc, clientId: "" }), meta: { client_id: "required" } },
    { name: "blank client id", call: (c) => c.createOAuthProvider({ ...oidc, clientId: "   " }), meta: { client_id: "string.not_blank" } },
    { name: "client id too long", call: (c) => c.createOAuthProvider({ ...oidc, clientId: "c".repeat(501) }), meta: { client_id: "string.max_len" } },
    { name: "no client secret", call: (c) => c.createOAuthProvider({ ...oidc, clientSecret: "" }), meta: { client_secret: "required" } },
    { name: "blank client secret", call: (c) => c.createOAuthProvider({ ...oidc, clientSecret: "  " }), meta: { client_secret: "string.not_blank" } },
    { name: "client secret too long", call: (c) => c.createOAuthProvider({ ...oidc, clientSecret: "s".repeat(2049) }), meta: { client_secret: "string.max_len" } },
    { name: "display name too long", call: (c) => c.createOAuthProvider({ ...oidc, displayName: "d".repeat(101) }), meta: { display_name: "string.max_len" } },
    { name: "control character in display name", call: (c) => c.createOAuthProvider({ ...oidc, displayName: "Corp\nSSO" }), meta: { display_name: "string.pattern" } },
    {
      name: "duplicate type",
      call: (c) => c.createOAuthProvider({ ...github, slug: "github" }),
      code: Code.AlreadyExists,
      detailCode: "60811",
      meta: { provider_type: "github" },
      message: "OAuth provider with type 'github' already exists",
    },
    {
      name: "duplicate slug",
      call: (c) => c.createOAuthProvider({ ...oidc, slug: "corp-sso" }),
      code: Code.AlreadyExists,
      detailCode: "60811",
      meta: { slug: "corp-sso" },
      message: "OAuth provider with slug 'corp-sso' already exists",
    },
    { name: "id too short", call: (c) => c.getOAuthProvider({ id: "abc" }), meta: { id: "string.min_len" } },
    { name: "unknown id on update", call: (c) => c.updateOAuthProvider({ id: "zzzzzzzzzzzzzz", clientId: "c", enabled: true }), code: Code.NotFound, detailCode: "60810", meta: { provider_id: "zzzzzzzzzzzzzz" } },
    // The original's semantics: an update sets client_id, so it must be sent.
    { name: "update without client_id", call: (c) => c.updateOAuthProvider({ id: fixtures.apple, enabled: true }), meta: { client_id: "required" } },
    { name: "clearing an oidc issuer", call: (c) => c.updateOAuthProvider({ id: fixtures.oidc, clientId: "a", issuerUrl: "" }), meta: { issuer_url: "issuer_url.required" } },
    { name: "issuer on github by update", call: (c) => c.updateOAuthProvider({ id: fixtures.github, clientId: "g", issuerUrl: "https://github.com" }), meta: { issuer_url: "field.not_applicable" } },
    { name: "endpoint on apple by update", call: (c) => c.updateOAuthProvider({ id: fixtures.apple, clientId: "a", tokenEndpoint: "https://appleid.apple.com/auth/token" }), meta: { token_endpoint: "field.not_applicable" } },
    { name: "bad scopes on update", call: (c) => c.updateOAuthProvider({ id: fixtures.oidc, clientId: "a", scopes: "openid, e mail" }), meta: { scopes: "scopes.invalid_token" } },
    { name: "bad URL on update", call: (c) => c.updateOAuthProvider({ id: fixtures.oidc, clientId: "a", issuerUrl: "http://sso.corp.example" }), meta: { issuer_url: "url.https_required" } },
    { name: "empty display name on update", call: (c) => c.updateOAuthProvider({ id: fixtures.oidc, clientId: "a", displayName: "" }), meta: { display_name: "string.min_len" } },
    { name: "blank display name on update", call: (c) => c.updateOAuthProvider({ id: fixtures.oidc, clientId: "a", displayName: "   " }), meta: { display_name: "string.not_blank" } },
    { name: "blank client id on update", call: (c) => c.updateOAuthProvider({ id: fixtures.oidc, clientId: " " }), meta: { client_id: "string.not_blank" } },
    { name: "another redirect URL on create", call: (c) => c.createOAuthProvider({ ...oidc, redirectUrl: "https://app.example.com/oauth/callback" }), meta: { redirect_url: "redirect_url.mismatch" } },
    { name: "another redirect URL on update", call: (c) => c.updateOAuthProvider({ id: fixtures.oidc, clientId: "a", redirectUrl: "https://auth.example.com/login/other/callback" }), meta: { redirect_url: "redirect_url.mismatch" } },
  ];
  it.each(cases)("$name", async ({ call, code = Code.InvalidArgument, detailCode = "60001", meta, message }) => {
    const before = await snapshot();
    const errors = await Promise.all(SMOKE_TRANSPORTS.map((t) => callError(call(providers(t)))));
    for (const e of errors) {
      expect(e.code).toBe(code);
      expect(detailOf(e)).toEqual({ code: detailCode, meta });
      if (message !== undefined) expect(e.rawMessage).toBe(message);
    }
    expect(new Set(errors.map((e) => e.rawMessage)).size).toBe(1);
    expect(await snapshot()).toEqual(before);
  });
});

describe("QueryOAuthProviders", () => {
  beforeAll(async () => {
    const c = providers("connect-binary");
    for (const [slug, enabled, displayName] of [
      ["qp-alpha", true, "Zeta Login"],
      ["qp-beta", false, "Alpha Login"],
      ["qp-gamma", true, "Mid Login"],
    ] as const) {
      await c.createOAuthProvider({ providerType: ProviderType.OIDC, slug, displayName, enabled, issuerUrl: `https://${slug}.example.com`, clientId: `cid-${slug}`, clientSecret: newSecret(slug) });
    }
  });
  const q = (over: { keyword?: string; filters?: Record<string, { values: string[] }>; sorting?: { field: string; order: SortOrder }; page?: number; pageSize?: number }) => ({
    query: {
      pagination: { page: over.page ?? 1, pageSize: over.pageSize ?? 50 },
      keyword: over.keyword ?? "qp-",
      filters: over.filters ?? {},
      ...(over.sorting ? { sorting: over.sorting } : {}),
    },
  });

  it.each([
    { what: "default sort: newest first", req: q({}), slugs: ["qp-gamma", "qp-beta", "qp-alpha"] },
    { what: "sort by display name", req: q({ sorting: { field: "display_name", order: SortOrder.ASC } }), slugs: ["qp-beta", "qp-gamma", "qp-alpha"] },
    { what: "sort by slug descending", req: q({ sorting: { field: "slug", order: SortOrder.DESC } }), slugs: ["qp-gamma", "qp-beta", "qp-alpha"] },
    { what: "enabled filter", req: q({ filters: { enabled: { values: ["true"] } }, sorting: { field: "slug", order: SortOrder.ASC } }), slugs: ["qp-alpha", "qp-gamma"] },
    { what: "keyword over the client id, any case", req: q({ keyword: "CID-QP-BETA" }), slugs: ["qp-beta"] },
    { what: "keyword over the display name", req: q({ keyword: "zeta" }), slugs: ["qp-alpha"] },
    { what: "type filter", req: q({ keyword: "", filters: { providerType: { values: ["GITHUB"] } } }), slugs: ["github"] },
  ])("$what", async ({ req, slugs }) => {
    const res = await providers("grpc-js").queryOAuthProviders(req);
    expect(res.data.map((x) => x.slug)).toEqual(slugs);
    expect(res.meta).toMatchObject({ rowCount: slugs.length, pageCount: 1 });
  });

  it("pages, and lists the types that exist", async () => {
    const res = await providers().queryOAuthProviders(q({ page: 2, pageSize: 2, sorting: { field: "slug", order: SortOrder.ASC } }));
    expect(res.data.map((x) => x.slug)).toEqual(["qp-gamma"]);
    expect(res.meta).toMatchObject({ rowCount: 3, pageCount: 2 });
    const types = await api.db.sql<{ t: string }[]>`select distinct provider_type as t from altalune_oauth_providers order by 1`;
    expect(Object.keys(res.meta?.filters ?? {}).sort()).toEqual(["enabled", "provider_type"]);
    expect(res.meta?.filters).toMatchObject({ provider_type: { values: types.map((r) => r.t) }, enabled: { values: ["true", "false"] } });
    expect(types.map((r) => r.t)).toContain("oidc");
  });
});

describe("RevealClientSecret is audited", () => {
  it("writes one audit line naming the caller, the provider and the request id, never the secret", async () => {
    const c = api.client(OAuthProviderService, "connect-binary", { headers: { "x-request-id": "provider-reveal-1" } });
    const secret = newSecret("audited");
    const p = (await c.createOAuthProvider({ providerType: ProviderType.OIDC, slug: "audited", issuerUrl: "https://audit.example.com", clientId: "a", clientSecret: secret })).provider!;
    const before = logLines.length;
    expect((await c.revealClientSecret({ id: p.id })).clientSecret).toBe(secret);
    const audit = logLines
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => typeof l.audit === "string");
    expect(audit).toEqual([
      expect.objectContaining({
        level: 30,
        audit: "oauth_provider.secret_revealed",
        providerId: p.id,
        providerType: "oidc",
        slug: "audited",
        caller: `user:${api.superadmin.publicId}`,
        requestId: "provider-reveal-1",
        msg: "OAuth provider client secret revealed",
      }),
    ]);

    const beforeDelete = logLines.length;
    await c.deleteOAuthProvider({ id: p.id });
    const deleted = logLines.slice(beforeDelete).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === "oauth_provider.deleted");
    expect(deleted).toEqual([expect.objectContaining({ providerId: p.id, slug: "audited", caller: `user:${api.superadmin.publicId}` })]);
  });
});

describe("permissions", () => {
  it("follows provider:read, provider:write and provider:delete", async () => {
    const user = (
      await api.client(UserService, "connect-json").createUser({ email: "provider-admin@example.com", firstName: "Provider", lastName: "Admin" })
    ).user!;
    const as = async (perms: string[], transport: TransportName = "grpc-js") =>
      api.client(OAuthProviderService, transport, { token: await api.token({ sub: user.id, perms }) });
    const reader = await as(["provider:read"]);
    const writer = await as(["provider:write"], "connect-json");
    const deleter = await as(["provider:delete"]);
    const nobody = await as(["client:read", "user:read"], "connect-json");

    const target = (await writer.createOAuthProvider({ providerType: ProviderType.OIDC, slug: "perms", issuerUrl: "https://perms.example.com", clientId: "p", clientSecret: newSecret("perms") })).provider!;
    expect((await writer.updateOAuthProvider({ ...kept(target), displayName: "Perms 2" })).provider?.displayName).toBe("Perms 2");
    expect((await reader.getOAuthProvider({ id: target.id })).provider?.displayName).toBe("Perms 2");
    expect((await reader.queryOAuthProviders({})).data.length).toBeGreaterThan(0);
    expect((await reader.revealClientSecret({ id: target.id })).clientSecret).toBe(secrets.at(-1));

    const denied = async (call: Promise<unknown>, required: string) => {
      const e = await callError(call);
      expect(e.code).toBe(Code.PermissionDenied);
      expect(detailOf(e)).toMatchObject({ code: "60011", meta: { reason: "permission", required } });
    };
    await denied(reader.createOAuthProvider({ providerType: ProviderType.OIDC, slug: "no", issuerUrl: "https://no.example.com", clientId: "n", clientSecret: "n" }), "provider:write");
    await denied(reader.updateOAuthProvider({ ...kept(target), enabled: true }), "provider:write");
    await denied(reader.deleteOAuthProvider({ id: target.id }), "provider:delete");
    await denied(writer.revealClientSecret({ id: target.id }), "provider:read");
    await denied(writer.getOAuthProvider({ id: target.id }), "provider:read");
    await denied(writer.deleteOAuthProvider({ id: target.id }), "provider:delete");
    await denied(nobody.queryOAuthProviders({}), "provider:read");
    await denied(nobody.revealClientSecret({ id: target.id }), "provider:read");
    await denied(deleter.getOAuthProvider({ id: target.id }), "provider:read");
    expect((await deleter.deleteOAuthProvider({ id: target.id })).message).toBe("OAuth provider deleted successfully");
  });
});

describe("the encryption key", () => {
  it("without ENCRYPTION_KEY: reading works, sealing or revealing a secret is a FailedPrecondition", async () => {
    const keyless = await startTestApi({ ENCRYPTION_KEY: "" }, { db: api.db });
    try {
      const c = keyless.client(OAuthProviderService, "connect-json");
      const github = (await c.queryOAuthProviders({ query: { pagination: { page: 1, pageSize: 10 }, filters: { slug: { values: ["github"] } } } })).data[0]!;
      const before = await snapshot();
      for (const call of [
        () => c.createOAuthProvider({ providerType: ProviderType.OIDC, slug: "keyless", issuerUrl: "https://k.example.com", clientId: "k", clientSecret: "k" }),
        () => c.revealClientSecret({ id: github.id }),
        () => c.updateOAuthProvider({ ...kept(github), clientSecret: "new-secret-without-key" }),
      ]) {
        const e = await callError(call());
        expect(e.code).toBe(Code.FailedPrecondition);
        expect(detailOf(e)).toEqual({ code: "60814", meta: {} });
        expect(e.rawMessage).toContain("ENCRYPTION_KEY");
      }
      expect(await snapshot()).toEqual(before);
      // An update that keeps the secret needs no key.
      expect((await c.updateOAuthProvider({ ...kept(github), displayName: "GitHub (keyless)" })).provider?.displayName).toBe("GitHub (keyless)");
    } finally {
      await keyless.close();
    }
  });

  it("with another key: the stored secret does not open (60813), and the server says so in its log", async () => {
    const rekeyedLog = captureLogger("info");
    const rekeyed = await startTestApi({ ENCRYPTION_KEY: TEST_OTHER_ENCRYPTION_KEY.toString("base64") }, { db: api.db, logger: rekeyedLog.logger });
    try {
      const c = rekeyed.client(OAuthProviderService, "grpc-js");
      const apple = (await c.queryOAuthProviders({ query: { pagination: { page: 1, pageSize: 10 }, filters: { slug: { values: ["apple"] } } } })).data[0]!;
      const e = await callError(c.revealClientSecret({ id: apple.id }));
      expect(e.code).toBe(Code.Internal);
      expect(detailOf(e)).toEqual({ code: "60813", meta: { provider_id: apple.id } });
      expect(rekeyedLog.records()).toContainEqual(
        expect.objectContaining({ level: 50, providerId: apple.id, msg: "OAuth provider client secret cannot be opened" }),
      );
    } finally {
      await rekeyed.close();
    }
  });
});

describe("lookup for the auth server", () => {
  let db: TestDatabase;
  let service: OAuthProviderServiceImpl;
  const key = Buffer.from(TEST_ENV.ENCRYPTION_KEY!, "base64");
  const quiet = { info: () => {}, error: () => {} };
  const ctx = { values: { get: () => undefined } } as unknown as HandlerContext;
  beforeAll(async () => {
    db = await createTestDatabase();
    await runPostMigrate(db.sql);
    service = new OAuthProviderServiceImpl(new OAuthProviderRepo(db.sql), key, "http://auth.test", quiet, new OutboundPolicy(false));
  });
  afterAll(async () => {
    await db?.drop();
  });
  const add = (init: MessageInitShape<typeof CreateOAuthProviderRequestSchema>) =>
    service.createOAuthProvider(create(CreateOAuthProviderRequestSchema, init)).then((r) => r.provider!);

  it("lists enabled providers for the login page: fixed types first, then oidc by name", async () => {
    expect(await listEnabledProviders(db.sql)).toEqual([]);
    await add({ providerType: ProviderType.OIDC, slug: "zz-idp", displayName: "Acme", issuerUrl: "https://acme.example.com", clientId: "z", clientSecret: "s1", enabled: true });
    await add({ providerType: ProviderType.OIDC, slug: "aa-idp", displayName: "Zenith", issuerUrl: "https://zenith.example.com", clientId: "a", clientSecret: "s2", enabled: true });
    await add({ providerType: ProviderType.OIDC, slug: "off-idp", issuerUrl: "https://off.example.com", clientId: "o", clientSecret: "s3", enabled: false });
    await add({ providerType: ProviderType.GITHUB, clientId: "g", clientSecret: "s4", enabled: true });
    await add({ providerType: ProviderType.GOOGLE, clientId: "go", clientSecret: "s5", enabled: true });
    expect(await listEnabledProviders(db.sql)).toEqual([
      { slug: "google", providerType: "google", displayName: "Google" },
      { slug: "github", providerType: "github", displayName: "GitHub" },
      { slug: "zz-idp", providerType: "oidc", displayName: "Acme" },
      { slug: "aa-idp", providerType: "oidc", displayName: "Zenith" },
    ]);
  });

  it("finds a provider by slug with its secret opened and defaults applied", async () => {
    const google = await findProviderBySlug(db.sql, "Google", key);
    expect(google).toEqual({
      id: expect.stringMatching(PUBLIC_ID),
      providerType: "google",
      slug: "google",
      displayName: "Google",
      clientId: "go",
      clientSecret: "s5",
      scopes: ["openid", "email", "profile"],
      enabled: true,
      callbackPath: "/login/google/callback",
      protocol: "oidc",
      issuerUrl: "https://accounts.google.com",
    });
    expect(await findProviderBySlug(db.sql, "github", key)).toMatchObject({
      protocol: "github",
      clientSecret: "s4",
      scopes: ["read:user", "user:email"],
      authorizationEndpoint: "https://github.com/login/oauth/authorize",
      tokenEndpoint: "https://github.com/login/oauth/access_token",
      userinfoEndpoint: "https://api.github.com/user",
      emailsEndpoint: "https://api.github.com/user/emails",
    });
    // Disabled providers are found, flagged: the auth server refuses them with its own message.
    expect(await findProviderBySlug(db.sql, "off-idp", key)).toMatchObject({ enabled: false, protocol: "oidc", issuerUrl: "https://off.example.com", clientSecret: "s3" });
    expect(await findProviderBySlug(db.sql, "nope", key)).toBeUndefined();
  });

  it("follows overrides, including a secret rotated by UpdateOAuthProvider", async () => {
    const [row] = await db.sql<{ public_id: string }[]>`select public_id from altalune_oauth_providers where slug = 'github'`;
    await service.updateOAuthProvider(
      create(UpdateOAuthProviderRequestSchema, {
        id: row!.public_id,
        clientId: "g",
        enabled: true,
        clientSecret: "rotated",
        authorizationEndpoint: "http://127.0.0.1:4999/login/oauth/authorize",
        tokenEndpoint: "http://127.0.0.1:4999/login/oauth/access_token",
        userinfoEndpoint: "http://127.0.0.1:4999/api/v3/user/",
      }),
    );
    expect(await findProviderBySlug(db.sql, "github", key)).toMatchObject({
      clientSecret: "rotated",
      authorizationEndpoint: "http://127.0.0.1:4999/login/oauth/authorize",
      tokenEndpoint: "http://127.0.0.1:4999/login/oauth/access_token",
      userinfoEndpoint: "http://127.0.0.1:4999/api/v3/user/",
      emailsEndpoint: "http://127.0.0.1:4999/api/v3/user/emails",
    });
    await service.deleteOAuthProvider(create(DeleteOAuthProviderRequestSchema, { id: row!.public_id }), ctx);
    expect(await findProviderBySlug(db.sql, "github", key)).toBeUndefined();
  });

  it("says why a secret cannot be opened", async () => {
    await expect(findProviderBySlug(db.sql, "google", undefined)).rejects.toMatchObject({ name: "ProviderConfigError", reason: "encryption_key_missing", slug: "google" });
    const other = TEST_OTHER_ENCRYPTION_KEY;
    const err = await findProviderBySlug(db.sql, "google", other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderConfigError);
    expect(err).toMatchObject({ reason: "secret_unreadable" });
    // A sealed value moved to another row does not open there either.
    await db.sql`update altalune_oauth_providers set client_secret_sealed = (select client_secret_sealed from altalune_oauth_providers where slug = 'google') where slug = 'zz-idp'`;
    await expect(findProviderBySlug(db.sql, "zz-idp", key)).rejects.toMatchObject({ reason: "secret_unreadable" });
  });
});

describe("the table itself", () => {
  it("refuses what the service would refuse, should anything else write to it", async () => {
    const sql = api.db.sql;
    const insert = (type: string, slug: string, issuer: string | null, token: string | null = null) =>
      sql`insert into altalune_oauth_providers (public_id, provider_type, slug, display_name, client_id, client_secret_sealed, scopes, issuer_url, token_endpoint)
          values (${newPublicId()}, ${type}, ${slug}, 'x', 'x', 'v1.x', '{openid}', ${issuer}, ${token})`;
    await expect(insert("facebook", "facebook", null)).rejects.toThrow(/chk_altalune_oauth_providers_type/);
    await expect(insert("oidc", "no-issuer", null)).rejects.toThrow(/chk_altalune_oauth_providers_oidc_issuer/);
    await expect(insert("oidc", "Bad", "https://x.example.com")).rejects.toThrow(/chk_altalune_oauth_providers_slug/);
    await expect(insert("google", "gmail", null)).rejects.toThrow(/chk_altalune_oauth_providers_slug/);
    await expect(insert("oidc", "tok", "https://x.example.com", "https://x.example.com/token")).rejects.toThrow(/chk_altalune_oauth_providers_github_endpoints/);
    await expect(insert("github", "github", "https://github.com")).rejects.toThrow(/chk_altalune_oauth_providers_github_endpoints/);
    await expect(sql`insert into altalune_oauth_providers (public_id, provider_type, slug, display_name, client_id, scopes) values ('x', 'google', 'google', 'x', 'x', '{openid}')`).rejects.toThrow(/client_secret_sealed/);
  });
});

describe("secrets never reach the log", () => {
  it("no secret given to the API appears in any log line", () => {
    expect(secrets.length).toBeGreaterThan(10);
    const all = logLines.join("\n");
    expect(all).toContain("oauth_provider.secret_revealed");
    for (const secret of secrets) expect(all).not.toContain(secret);
  });
});

describe("provider URLs in production (outbound policy at write time)", () => {
  let db: TestDatabase;
  const key = Buffer.from(TEST_ENV.ENCRYPTION_KEY!, "base64");
  const quiet = { info: () => {}, error: () => {} };
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  const serviceWith = (allowed: string[] = []) =>
    new OAuthProviderServiceImpl(new OAuthProviderRepo(db.sql), key, "https://auth.test", quiet, new OutboundPolicy(true, allowed));
  const oidc = (slug: string, issuerUrl: string) =>
    create(CreateOAuthProviderRequestSchema, { providerType: ProviderType.OIDC, slug, issuerUrl, clientId: "c", clientSecret: "s" });

  it.each([
    ["plain http to loopback", "http://127.0.0.1:4020", "url.https_required"],
    ["plain http to localhost", "http://localhost:8080/realms/x", "url.https_required"],
    ["loopback address", "https://127.0.0.1", "url.private_address"],
    ["localhost", "https://localhost", "url.private_address"],
    ["private 10/8", "https://10.0.0.5/realms/main", "url.private_address"],
    ["cloud metadata (link-local)", "https://169.254.169.254", "url.private_address"],
    ["CGNAT", "https://100.64.1.1", "url.private_address"],
    ["IPv6 loopback", "https://[::1]", "url.private_address"],
    ["IPv4-mapped IPv6 loopback", "https://[::ffff:127.0.0.1]", "url.private_address"],
    ["IPv6 unique-local", "https://[fd00::1]", "url.private_address"],
    ["unspecified", "https://0.0.0.0", "url.private_address"],
  ])("refuses %s (InvalidArgument on issuer_url, nothing stored)", async (_name, url, rule) => {
    const before = await db.sql`select 1 from altalune_oauth_providers`;
    const error = await serviceWith().createOAuthProvider(oidc("refused-idp", url)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ status: "invalid_argument", code: "60001", meta: { issuer_url: rule } });
    expect(await db.sql`select 1 from altalune_oauth_providers`).toHaveLength(before.length);
  });

  it("accepts public https URLs, and private addresses only when OUTBOUND_ALLOWED_HOSTS lists them", async () => {
    await expect(serviceWith().createOAuthProvider(oidc("public-idp", "https://idp.example.com/realms/main"))).resolves.toBeDefined();
    const allowed = serviceWith(["10.0.0.0/8", "sso.localhost"]);
    await expect(allowed.createOAuthProvider(oidc("lan-idp", "https://10.0.0.5/realms/main"))).resolves.toBeDefined();
    await expect(allowed.createOAuthProvider(oidc("local-idp", "https://sso.localhost"))).resolves.toBeDefined();
    // The allow-list opens those hosts, not plain http nor other private ranges.
    await expect(allowed.createOAuthProvider(oidc("lan-http", "http://10.0.0.5"))).rejects.toMatchObject({ meta: { issuer_url: "url.https_required" } });
    await expect(allowed.createOAuthProvider(oidc("lan-other", "https://192.168.1.1"))).rejects.toMatchObject({ meta: { issuer_url: "url.private_address" } });
    const github = create(CreateOAuthProviderRequestSchema, {
      providerType: ProviderType.GITHUB,
      tokenEndpoint: "https://169.254.169.254/latest/meta-data",
      clientId: "g",
      clientSecret: "s",
    });
    await expect(serviceWith().createOAuthProvider(github)).rejects.toMatchObject({ meta: { token_endpoint: "url.private_address" } });
  });
});
