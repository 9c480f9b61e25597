import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { loadConfig, openSecret } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { captureLogger } from "@altalune/test-kit";
import { GetOAuthClientResponseSchema, OAuthClientService, QueryOAuthClientsResponseSchema, SortOrder } from "@altalune/proto";
import { seed } from "../../seed.js";
import { startTestApi, TEST_ENV, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { freshDatabases } from "../../testing/fresh-databases.js";
import { DashboardClientSeedError, seedDashboardClient } from "./seed.js";

const log = captureLogger("trace");
const logLines = log.lines;
/** Every secret the API handed out: none may ever appear in a log line. */
const issuedSecrets: string[] = [];

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ LOG_LEVEL: "trace" }, { logger: log.logger });
});
afterAll(async () => {
  await api?.close();
});

const clients = (transport: TransportName = "connect-json") => api.client(OAuthClientService, transport);
const SMOKE_TRANSPORTS = ["connect-json", "grpc-js"] as const;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function storedRow(sql: Sql, publicId: string) {
  const [row] = await sql<{ client_id: string; client_secret_sealed: string | null; allowed_scopes: string[] }[]>`
    select client_id::text, client_secret_sealed, allowed_scopes from altalune_oauth_clients where public_id = ${publicId}`;
  if (row === undefined) throw new Error(`no client ${publicId}`);
  return row;
}

async function defaultClient() {
  const res = await clients().queryOAuthClients({
    query: { pagination: { page: 1, pageSize: 10 }, filters: { is_default: { values: ["true"] } } },
  });
  const [client] = res.clients;
  if (client === undefined || res.clients.length !== 1) throw new Error("expected exactly one default client");
  return client;
}

describe.each(SMOKE_TRANSPORTS)("OAuthClientService over %s", (transport) => {
  const tag = transport.replace(/[^a-z]/g, " ").trim();

  it("creates a confidential client: the secret is returned once, sealed at rest, revealed on demand", async () => {
    const c = clients(transport);
    const created = await c.createOAuthClient({
      name: `  Billing ${tag} `,
      redirectUris: ["https://billing.example.com/callback", "http://localhost:4000/cb"],
      pkceRequired: false,
      confidential: true,
    });
    expect(created.message).toBe("OAuth client created successfully");
    const client = created.client!;
    const secret = created.clientSecret;
    issuedSecrets.push(secret);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(client).toMatchObject({
      name: `Billing ${tag}`,
      redirectUris: ["https://billing.example.com/callback", "http://localhost:4000/cb"],
      postLogoutRedirectUris: [],
      pkceRequired: false,
      isDefault: false,
      confidential: true,
      clientSecretSet: true,
      allowedScopes: ["openid", "profile", "email"],
    });
    expect(client.id).toMatch(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/);
    expect(client.clientId).toMatch(UUID_V4);

    // Get and Query describe the client but never carry the secret.
    const got = await c.getOAuthClient({ id: client.id });
    expect(got).toMatchObject({ message: "OAuth client retrieved successfully", client });
    expect(toJsonString(GetOAuthClientResponseSchema, got)).not.toContain(secret);
    const listed = await c.queryOAuthClients({ query: { pagination: { page: 1, pageSize: 100 } } });
    expect(listed.clients.map((x) => x.id)).toContain(client.id);
    expect(toJsonString(QueryOAuthClientsResponseSchema, listed)).not.toContain(secret);

    // At rest: sealed under ENCRYPTION_KEY with the client id as context, never the plaintext.
    const row = await storedRow(api.db.sql, client.id);
    expect(row.client_id).toBe(client.clientId);
    expect(row.client_secret_sealed).toMatch(/^v1\./);
    expect(row.client_secret_sealed).not.toContain(secret);
    const key = api.config.encryptionKey!;
    expect(openSecret(key, row.client_secret_sealed!, `oauth_client:${client.clientId}`)).toBe(secret);
    expect(() => openSecret(key, row.client_secret_sealed!, "oauth_client:00000000-0000-4000-8000-000000000000")).toThrow();

    const revealed = await c.revealOAuthClientSecret({ id: client.id });
    expect(revealed).toMatchObject({
      clientSecret: secret,
      message: "Client secret revealed. This action has been logged for audit purposes.",
    });
  });

  it("creates a public client: no secret, PKCE forced on, nothing to reveal", async () => {
    const c = clients(transport);
    const created = await c.createOAuthClient({
      name: `SPA ${tag}`,
      redirectUris: ["https://spa.example.com/cb"],
      postLogoutRedirectUris: ["https://spa.example.com/"],
      allowedScopes: ["offline_access", "openid"],
      pkceRequired: false,
      confidential: false,
    });
    expect(created.clientSecret).toBe("");
    expect(created.client).toMatchObject({
      confidential: false,
      clientSecretSet: false,
      pkceRequired: true,
      allowedScopes: ["openid", "offline_access"],
      postLogoutRedirectUris: ["https://spa.example.com/"],
    });
    const row = await storedRow(api.db.sql, created.client!.id);
    expect(row.client_secret_sealed).toBeNull();
    expect(row.allowed_scopes).toEqual(["openid", "offline_access"]);

    const refused = await callError(c.revealOAuthClientSecret({ id: created.client!.id }));
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(refused.rawMessage).toBe("public clients do not have a client secret");
    expect(detailOf(refused)?.code).toBe("60001");
  });

  it("updates only the fields sent, and refuses an update that changes nothing", async () => {
    const c = clients(transport);
    const created = (
      await c.createOAuthClient({ name: `Portal ${tag}`, redirectUris: ["https://portal.example.com/cb"], pkceRequired: true, confidential: true })
    ).client!;
    issuedSecrets.push((await c.revealOAuthClientSecret({ id: created.id })).clientSecret);

    const renamed = await c.updateOAuthClient({ id: created.id, name: ` Portal ${tag} v2 ` });
    expect(renamed.message).toBe("OAuth client updated successfully");
    expect(renamed.client).toMatchObject({ ...strip(created), name: `Portal ${tag} v2` });

    const rewired = await c.updateOAuthClient({
      id: created.id,
      redirectUris: ["https://portal.example.com/cb2", "https://portal.example.com/cb3"],
      allowedScopes: ["email", "offline_access", "openid"],
      postLogoutRedirectUris: { values: ["https://portal.example.com/bye"] },
      pkceRequired: false,
    });
    expect(rewired.client).toMatchObject({
      name: `Portal ${tag} v2`,
      redirectUris: ["https://portal.example.com/cb2", "https://portal.example.com/cb3"],
      allowedScopes: ["openid", "email", "offline_access"],
      postLogoutRedirectUris: ["https://portal.example.com/bye"],
      pkceRequired: false,
      confidential: true,
      clientId: created.clientId,
    });

    // A present but empty post-logout list clears it; absent lists stay.
    const cleared = await c.updateOAuthClient({ id: created.id, postLogoutRedirectUris: { values: [] } });
    expect(cleared.client).toMatchObject({ postLogoutRedirectUris: [], redirectUris: rewired.client!.redirectUris });

    const nothing = await callError(c.updateOAuthClient({ id: created.id, redirectUris: [], allowedScopes: [] }));
    expect(nothing.code).toBe(Code.InvalidArgument);
    expect(nothing.rawMessage).toBe("no fields to update");
    expect(detailOf(nothing)).toEqual({ code: "60001", meta: { "(message)": "update.no_fields" } });

    // The secret is not touched by updates.
    expect((await c.revealOAuthClientSecret({ id: created.id })).clientSecret).toBe(issuedSecrets.at(-1));
  });

  it("refuses to disable PKCE on a public client and on the default client", async () => {
    const c = clients(transport);
    const spa = (await c.createOAuthClient({ name: `Mobile ${tag}`, redirectUris: ["https://m.example.com/cb"], confidential: false })).client!;
    const onPublic = await callError(c.updateOAuthClient({ id: spa.id, pkceRequired: false, name: "Renamed" }));
    expect(onPublic.code).toBe(Code.FailedPrecondition);
    expect(onPublic.rawMessage).toBe("PKCE cannot be disabled for public clients");
    expect(detailOf(onPublic)).toEqual({ code: "60903", meta: { client_id: spa.id, reason: "public_client" } });
    expect((await c.getOAuthClient({ id: spa.id })).client).toMatchObject({ name: `Mobile ${tag}`, pkceRequired: true });

    const dashboard = await defaultClient();
    const onDefault = await callError(c.updateOAuthClient({ id: dashboard.id, pkceRequired: false }));
    expect(onDefault.code).toBe(Code.FailedPrecondition);
    expect(detailOf(onDefault)).toEqual({ code: "60903", meta: { client_id: dashboard.id, reason: "default_client" } });
    // Keeping PKCE on (a no-op) is fine.
    expect((await c.updateOAuthClient({ id: spa.id, pkceRequired: true })).client?.pkceRequired).toBe(true);
  });

  it("deleting a client revokes what the auth server stored for it, and only that", async () => {
    const c = clients(transport);
    const doomed = (await c.createOAuthClient({ name: `Doomed ${tag}`, redirectUris: ["https://d.example.com/cb"], confidential: true })).client!;
    const survivor = (await c.createOAuthClient({ name: `Survivor ${tag}`, redirectUris: ["https://s.example.com/cb"], confidential: true })).client!;
    const sql = api.db.sql;
    const put = (model: string, id: string, clientId: string) =>
      sql`insert into altalune_oidc_models (model, id, payload, grant_id, client_id)
          values (${model}, ${id}, ${sql.json({ kind: model })}, ${`grant-${tag}-${clientId}`}, ${clientId})`;
    for (const model of ["Grant", "AuthorizationCode", "AccessToken", "RefreshToken"]) await put(model, `${tag}-doomed-${model}`, doomed.clientId);
    await put("RefreshToken", `${tag}-survivor-rt`, survivor.clientId);

    expect((await c.deleteOAuthClient({ id: doomed.id })).message).toBe("OAuth client deleted successfully");
    const left = await sql<{ id: string }[]>`
      select id from altalune_oidc_models where client_id in (${doomed.clientId}, ${survivor.clientId}) order by id`;
    expect(left.map((r) => r.id)).toEqual([`${tag}-survivor-rt`]);
    const gone = await callError(c.getOAuthClient({ id: doomed.id }));
    expect(gone.code).toBe(Code.NotFound);
    expect(detailOf(gone)).toEqual({ code: "60900", meta: { client_id: doomed.id } });
    expect(detailOf(await callError(c.deleteOAuthClient({ id: doomed.id })))?.code).toBe("60900");
  });

  it("the default dashboard client cannot be deleted", async () => {
    const dashboard = await defaultClient();
    const sql = api.db.sql;
    await sql`insert into altalune_oidc_models (model, id, payload, client_id)
              values ('RefreshToken', ${`${tag}-dashboard-rt`}, '{}', ${dashboard.clientId})`;
    const refused = await callError(clients(transport).deleteOAuthClient({ id: dashboard.id }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toBe("cannot delete default dashboard client");
    expect(detailOf(refused)).toEqual({ code: "60902", meta: { client_id: dashboard.id } });
    expect(await defaultClient()).toEqual(dashboard);
    const [kept] = await sql`select 1 from altalune_oidc_models where id = ${`${tag}-dashboard-rt`}`;
    expect(kept).toBeDefined();
  });
});

/** The fields an update must leave alone (timestamps move). */
function strip<T extends { updatedAt?: unknown; name?: unknown }>(client: T): Omit<T, "updatedAt" | "name"> {
  const { updatedAt: _u, name: _n, ...rest } = client;
  return rest;
}

describe("the seeded default dashboard client", () => {
  it("follows the configuration: confidential, PKCE, every scope, the dashboard's name", async () => {
    const dashboard = await defaultClient();
    expect(dashboard).toMatchObject({
      name: "Altalune Dashboard",
      clientId: TEST_ENV.DASHBOARD_CLIENT_ID,
      isDefault: true,
      confidential: true,
      pkceRequired: true,
      allowedScopes: ["openid", "profile", "email", "offline_access"],
      redirectUris: ["http://localhost:3000/auth/callback", "http://127.0.0.1:3000/auth/callback"],
    });
    // Its secret is the operator's (DASHBOARD_CLIENT_SECRET): not revealed through the API, to root neither.
    const refused = await callError(clients().revealOAuthClientSecret({ id: dashboard.id }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(detailOf(refused)).toEqual({ code: "60909", meta: { client_id: dashboard.id } });
    const [row] = await api.db.sql<{ client_secret_sealed: string }[]>`select client_secret_sealed from altalune_oauth_clients where is_default`;
    expect(row?.client_secret_sealed).toMatch(/^v1\./);
  });

  // Issue 11: it skips consent and the BFF exchanges its codes, so a redirect URI added through
  // the API would send any signed-in user's code to the caller's URI.
  it("its redirect URIs come from the configuration: UpdateOAuthClient refuses to change them (60906), nothing changes", async () => {
    const dashboard = await defaultClient();
    const writer = api.client(OAuthClientService, "connect-json", {
      token: await api.token({ sub: api.superadmin.publicId, perms: ["client:write", "client:read"] }),
    });
    const snapshot = () => api.db.sql`select t::text from altalune_oauth_clients t where is_default`;
    const before = await snapshot();
    for (const redirectUris of [
      [...dashboard.redirectUris, "https://evil.example.com/cb"],
      ["https://evil.example.com/cb"],
      [...dashboard.redirectUris].reverse(),
    ]) {
      const refused = await callError(writer.updateOAuthClient({ id: dashboard.id, redirectUris, name: "Renamed" }));
      expect(refused.code).toBe(Code.FailedPrecondition);
      expect(refused.rawMessage).toBe(
        "the redirect URIs of the default dashboard client come from DASHBOARD_REDIRECT_URIS and cannot be changed through the API",
      );
      expect(detailOf(refused)).toEqual({ code: "60906", meta: { client_id: dashboard.id, field: "redirect_uris" } });
    }
    expect(await snapshot()).toEqual(before);
    // The same list is no change; its other fields stay editable.
    const same = await writer.updateOAuthClient({ id: dashboard.id, redirectUris: dashboard.redirectUris, name: dashboard.name });
    expect(same.client).toMatchObject({ redirectUris: dashboard.redirectUris, name: dashboard.name });
  });

  // Issue 16: the original dashboard's clients page always sends every field of its edit form.
  it("the original dashboard's edit form resent unchanged (name, redirect URIs, PKCE, scopes) is accepted on every transport", async () => {
    const dashboard = await defaultClient();
    const before = await api.db.sql`select redirect_uris, allowed_scopes, pkce_required, name from altalune_oauth_clients where is_default`;
    for (const transport of ["connect-json", "grpc-js"] as const) {
      const resent = await clients(transport).updateOAuthClient({
        id: dashboard.id,
        name: dashboard.name,
        redirectUris: [...dashboard.redirectUris],
        pkceRequired: dashboard.pkceRequired,
        allowedScopes: [...dashboard.allowedScopes],
      });
      expect(resent.client).toMatchObject({ redirectUris: dashboard.redirectUris, allowedScopes: dashboard.allowedScopes, pkceRequired: dashboard.pkceRequired });
    }
    expect(await api.db.sql`select redirect_uris, allowed_scopes, pkce_required, name from altalune_oauth_clients where is_default`).toEqual(before);
  });
});

describe("bad input is refused identically on connect and grpc-js, and changes nothing", () => {
  type Client = ReturnType<typeof clients>;
  const ok = { name: "Valid", redirectUris: ["https://ok.example.com/cb"], confidential: true };
  const cases: Array<{ name: string; call: (c: Client) => Promise<unknown>; code: Code; detail: { code: string; meta: Record<string, string> }; message?: string }> = [
    { name: "empty name", call: (c) => c.createOAuthClient({ ...ok, name: "" }), code: Code.InvalidArgument, detail: { code: "60001", meta: { name: "required" } } },
    { name: "blank name", call: (c) => c.createOAuthClient({ ...ok, name: "   " }), code: Code.InvalidArgument, detail: { code: "60001", meta: { name: "string.not_blank" } } },
    { name: "forbidden characters in name", call: (c) => c.createOAuthClient({ ...ok, name: "app:admin" }), code: Code.InvalidArgument, detail: { code: "60001", meta: { name: "string.pattern" } } },
    { name: "name too long", call: (c) => c.createOAuthClient({ ...ok, name: "n".repeat(101) }), code: Code.InvalidArgument, detail: { code: "60001", meta: { name: "string.max_len" } } },
    { name: "no redirect URI", call: (c) => c.createOAuthClient({ ...ok, redirectUris: [] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { redirect_uris: "repeated.min_items" } } },
    {
      name: "eleven redirect URIs",
      call: (c) => c.createOAuthClient({ ...ok, redirectUris: Array.from({ length: 11 }, (_, i) => `https://ok.example.com/cb${i}`) }),
      code: Code.InvalidArgument,
      detail: { code: "60001", meta: { redirect_uris: "repeated.max_items" } },
    },
    { name: "duplicate redirect URIs", call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["https://a.example.com/cb", "https://a.example.com/cb"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { redirect_uris: "repeated.unique" } } },
    { name: "not a URI", call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["not a uri"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "string.uri" } } },
    { name: "URI too long", call: (c) => c.createOAuthClient({ ...ok, redirectUris: [`https://ok.example.com/${"p".repeat(480)}`] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "string.max_len" } } },
    {
      name: "ftp scheme",
      call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["https://ok.example.com/cb", "ftp://files.example.com/cb"] }),
      code: Code.InvalidArgument,
      detail: { code: "60001", meta: { "redirect_uris[1]": "redirect_uri.scheme" } },
      message: "invalid redirect URI: ftp://files.example.com/cb",
    },
    { name: "custom scheme", call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["com.example.app:/cb"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "redirect_uri.scheme" } } },
    { name: "wildcard", call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["https://*.example.com/cb"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "redirect_uri.no_wildcard" } } },
    { name: "fragment", call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["https://ok.example.com/cb#top"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "redirect_uri.no_fragment" } } },
    { name: "query", call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["https://ok.example.com/cb?x=1"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "redirect_uri.no_query" } } },
    { name: "no host", call: (c) => c.createOAuthClient({ ...ok, redirectUris: ["http:///cb"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "redirect_uri.host" } } },
    { name: "bad post-logout URI", call: (c) => c.createOAuthClient({ ...ok, postLogoutRedirectUris: ["https://ok.example.com/#x"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "post_logout_redirect_uris[0]": "redirect_uri.no_fragment" } } },
    { name: "unknown scope", call: (c) => c.createOAuthClient({ ...ok, allowedScopes: ["openid", "admin"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "allowed_scopes[1]": "scope.unknown" } }, message: "unknown scope: admin" },
    { name: "root as a scope", call: (c) => c.createOAuthClient({ ...ok, allowedScopes: ["openid", "employee:read", "root"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "allowed_scopes[2]": "scope.root" } }, message: "root is never an OAuth scope" },
    { name: "projects for a public client", call: (c) => c.createOAuthClient({ ...ok, confidential: false, projectIds: ["zzzzzzzzzzzzzz"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { project_ids: "oauth_client.projects_confidential_only" } } },
    { name: "unknown project", call: (c) => c.createOAuthClient({ ...ok, confidential: true, projectIds: ["zzzzzzzzzzzzzz"] }), code: Code.NotFound, detail: { code: "60301", meta: { project_id: "zzzzzzzzzzzzzz" } } },
    { name: "duplicate scope", call: (c) => c.createOAuthClient({ ...ok, allowedScopes: ["email", "email"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { allowed_scopes: "repeated.unique" } } },
    { name: "query missing", call: (c) => c.queryOAuthClients({}), code: Code.InvalidArgument, detail: { code: "60001", meta: { query: "required" } } },
    { name: "id of the wrong length", call: (c) => c.getOAuthClient({ id: "abc" }), code: Code.InvalidArgument, detail: { code: "60001", meta: { id: "string.len" } } },
    { name: "unknown id on get", call: (c) => c.getOAuthClient({ id: "zzzzzzzzzzzzzz" }), code: Code.NotFound, detail: { code: "60900", meta: { client_id: "zzzzzzzzzzzzzz" } } },
    { name: "unknown id on update", call: (c) => c.updateOAuthClient({ id: "zzzzzzzzzzzzzz", name: "X" }), code: Code.NotFound, detail: { code: "60900", meta: { client_id: "zzzzzzzzzzzzzz" } } },
    { name: "unknown id on reveal", call: (c) => c.revealOAuthClientSecret({ id: "zzzzzzzzzzzzzz" }), code: Code.NotFound, detail: { code: "60900", meta: { client_id: "zzzzzzzzzzzzzz" } } },
    { name: "unknown id on delete", call: (c) => c.deleteOAuthClient({ id: "zzzzzzzzzzzzzz" }), code: Code.NotFound, detail: { code: "60900", meta: { client_id: "zzzzzzzzzzzzzz" } } },
    { name: "blank name on update", call: (c) => c.updateOAuthClient({ id: "zzzzzzzzzzzzzz", name: " " }), code: Code.InvalidArgument, detail: { code: "60001", meta: { name: "string.not_blank" } } },
    { name: "bad redirect URI on update", call: (c) => c.updateOAuthClient({ id: "zzzzzzzzzzzzzz", redirectUris: ["https://a.example.com/*"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "redirect_uris[0]": "redirect_uri.no_wildcard" } } },
    {
      name: "bad post-logout URI on update",
      call: (c) => c.updateOAuthClient({ id: "zzzzzzzzzzzzzz", postLogoutRedirectUris: { values: ["ftp://x.example.com/"] } }),
      code: Code.InvalidArgument,
      detail: { code: "60001", meta: { "post_logout_redirect_uris.values[0]": "redirect_uri.scheme" } },
    },
    { name: "unknown scope on update", call: (c) => c.updateOAuthClient({ id: "zzzzzzzzzzzzzz", allowedScopes: ["phone"] }), code: Code.InvalidArgument, detail: { code: "60001", meta: { "allowed_scopes[0]": "scope.unknown" } } },
  ];
  it.each(cases)("$name", async ({ call, code, detail, message }) => {
    const snapshot = () => api.db.sql`select t::text from altalune_oauth_clients t order by id`;
    const before = await snapshot();
    const errors = await Promise.all(SMOKE_TRANSPORTS.map((t) => callError(call(clients(t)))));
    for (const e of errors) {
      expect(e.code).toBe(code);
      expect(detailOf(e)).toEqual(detail);
      if (message !== undefined) expect(e.rawMessage).toBe(message);
    }
    expect(new Set(errors.map((e) => e.rawMessage)).size).toBe(1);
    expect(await snapshot()).toEqual(before);
  });
});

describe("RevealOAuthClientSecret is audited", () => {
  it("writes one audit line naming the caller and the request id, never the secret", async () => {
    const c = api.client(OAuthClientService, "connect-binary", { headers: { "x-request-id": "audit-reveal-1" } });
    const created = await c.createOAuthClient({ name: "Audited", redirectUris: ["https://audit.example.com/cb"], confidential: true });
    issuedSecrets.push(created.clientSecret);
    const before = logLines.length;
    await c.revealOAuthClientSecret({ id: created.client!.id });
    const audit = logLines
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.audit === "oauth_client.secret_revealed");
    expect(audit).toEqual([
      expect.objectContaining({
        level: 30,
        audit: "oauth_client.secret_revealed",
        clientId: created.client!.clientId,
        caller: `user:${api.superadmin.publicId}`,
        requestId: "audit-reveal-1",
        msg: "OAuth client secret revealed",
      }),
    ]);
  });

  it("UpdateOAuthClient writes one audit line when a client's redirect URIs change, and none otherwise", async () => {
    const c = api.client(OAuthClientService, "connect-json", { headers: { "x-request-id": "audit-redirect-1" } });
    const created = (await c.createOAuthClient({ name: "Rewired", redirectUris: ["https://r.example.com/cb"], confidential: false })).client!;
    const auditLines = (from: number) =>
      logLines
        .slice(from)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.audit === "oauth_client.redirect_uris_changed");
    let from = logLines.length;
    await c.updateOAuthClient({ id: created.id, redirectUris: ["https://r.example.com/cb", "https://attacker.example.net/cb"] });
    expect(auditLines(from)).toEqual([
      expect.objectContaining({
        level: 30,
        audit: "oauth_client.redirect_uris_changed",
        clientId: created.clientId,
        caller: `user:${api.superadmin.publicId}`,
        requestId: "audit-redirect-1",
        before: ["https://r.example.com/cb"],
        after: ["https://r.example.com/cb", "https://attacker.example.net/cb"],
        revokedRows: 0,
        msg: "OAuth client redirect URIs changed; its consents, codes and tokens are revoked",
      }),
    ]);
    from = logLines.length;
    await c.updateOAuthClient({ id: created.id, name: "Rewired 2" });
    await c.updateOAuthClient({ id: created.id, redirectUris: ["https://r.example.com/cb", "https://attacker.example.net/cb"] });
    expect(auditLines(from)).toEqual([]);
  });

  // Issue 11 review: re-pointing a third-party client would send the codes of every user who
  // consented to it to the caller's URI, without asking them again.
  it("re-pointing a client revokes its consents, codes and tokens, and needs everything the client carries", async () => {
    const sql = api.db.sql;
    const c = clients("connect-json");
    const target = (
      await c.createOAuthClient({ name: "Consented", redirectUris: ["https://c.example.com/cb"], confidential: true, allowedScopes: ["openid", "employee:read"] })
    ).client!;
    await sql`insert into altalune_oidc_models (model, id, payload, client_id)
              values ('Grant', ${`${target.id}-grant`}, '{}', ${target.clientId}),
                     ('RefreshToken', ${`${target.id}-rt`}, '{}', ${target.clientId})`;
    const writer = api.client(OAuthClientService, "grpc-js", {
      token: await api.token({ sub: api.superadmin.publicId, perms: ["client:write", "dashboard:read"] }),
    });
    // Renaming is fine; re-pointing a client that carries employee:read needs employee:read.
    await writer.updateOAuthClient({ id: target.id, name: "Consented 2" });
    const refused = await callError(writer.updateOAuthClient({ id: target.id, redirectUris: ["https://attacker.example.net/cb"] }));
    expect(detailOf(refused)?.meta).toMatchObject({ reason: "escalation", missing: "employee:read" });
    const [kept] = await sql<{ n: number }[]>`select count(*)::int as n from altalune_oidc_models where client_id = ${target.clientId}`;
    expect(kept?.n).toBe(2);

    await c.updateOAuthClient({ id: target.id, redirectUris: ["https://moved.example.com/cb"] });
    const [left] = await sql<{ n: number }[]>`select count(*)::int as n from altalune_oidc_models where client_id = ${target.clientId}`;
    expect(left?.n).toBe(0);
  });

  it("follows the client:* permissions", async () => {
    const as = async (perms: string[]) =>
      api.client(OAuthClientService, "grpc-js", { token: await api.token({ sub: api.superadmin.publicId, perms }) });
    const reader = await as(["client:read"]);
    const writer = await as(["client:write"]);
    const target = (await clients().createOAuthClient({ name: "Perms", redirectUris: ["https://p.example.com/cb"], confidential: true })).client!;
    issuedSecrets.push((await reader.revealOAuthClientSecret({ id: target.id })).clientSecret);
    expect((await reader.getOAuthClient({ id: target.id })).client?.id).toBe(target.id);
    expect((await callError(reader.createOAuthClient({ name: "No", redirectUris: ["https://p.example.com/cb"] }))).code).toBe(Code.PermissionDenied);
    expect((await callError(reader.updateOAuthClient({ id: target.id, name: "No" }))).code).toBe(Code.PermissionDenied);
    expect((await writer.updateOAuthClient({ id: target.id, name: "Perms 2" })).client?.name).toBe("Perms 2");
    expect((await callError(writer.revealOAuthClientSecret({ id: target.id }))).code).toBe(Code.PermissionDenied);
    expect((await callError(writer.deleteOAuthClient({ id: target.id }))).code).toBe(Code.PermissionDenied);
    const deleter = await as(["client:delete"]);
    expect((await deleter.deleteOAuthClient({ id: target.id })).message).toBe("OAuth client deleted successfully");
  });
});

describe("QueryOAuthClients", () => {
  const ids: Record<string, { id: string; clientId: string }> = {};
  beforeAll(async () => {
    const c = clients("connect-binary");
    for (const [name, confidential] of [
      ["QC Alpha", true],
      ["QC Beta", false],
      ["QC Gamma", true],
      ["QC Delta_100", false],
    ] as const) {
      const created = await c.createOAuthClient({ name, redirectUris: ["https://q.example.com/cb"], confidential });
      issuedSecrets.push(created.clientSecret);
      ids[name] = { id: created.client!.id, clientId: created.client!.clientId };
    }
  });
  const q = (over: { keyword?: string; filters?: Record<string, { values: string[] }>; sorting?: { field: string; order: SortOrder }; page?: number; pageSize?: number }) => ({
    query: {
      pagination: { page: over.page ?? 1, pageSize: over.pageSize ?? 50 },
      keyword: over.keyword ?? "QC ",
      filters: over.filters ?? {},
      ...(over.sorting ? { sorting: over.sorting } : {}),
    },
  });

  it.each([
    { what: "default sort: newest first", req: q({}), names: ["QC Delta_100", "QC Gamma", "QC Beta", "QC Alpha"] },
    { what: "sort by name ascending", req: q({ sorting: { field: "name", order: SortOrder.ASC } }), names: ["QC Alpha", "QC Beta", "QC Delta_100", "QC Gamma"] },
    { what: "keyword, any case, _ literal", req: q({ keyword: "DELTA_1" }), names: ["QC Delta_100"] },
    { what: "confidential filter", req: q({ filters: { confidential: { values: ["true"] } }, sorting: { field: "name", order: SortOrder.ASC } }), names: ["QC Alpha", "QC Gamma"] },
    { what: "both boolean values match every client", req: q({ filters: { confidential: { values: ["true", "false"] } } }), names: ["QC Delta_100", "QC Gamma", "QC Beta", "QC Alpha"] },
    { what: "name filter, any case", req: q({ filters: { names: { values: ["qc beta", "QC GAMMA"] } } }), names: ["QC Gamma", "QC Beta"] },
    { what: "public clients require PKCE", req: q({ filters: { pkce_required: { values: ["true"] }, confidential: { values: ["false"] } } }), names: ["QC Delta_100", "QC Beta"] },
    { what: "unknown sort field falls back to created_at", req: q({ sorting: { field: "nope", order: SortOrder.ASC } }), names: ["QC Alpha", "QC Beta", "QC Gamma", "QC Delta_100"] },
  ])("$what", async ({ req, names }) => {
    const res = await clients("grpc-js").queryOAuthClients(req);
    expect(res.clients.map((x) => x.name)).toEqual(names);
    expect(res.meta).toMatchObject({ rowCount: names.length, pageCount: 1 });
    expect(res.message).toBe(`Found ${names.length} OAuth clients`);
  });

  it("finds a client by its client_id", async () => {
    const target = ids["QC Gamma"]!;
    const res = await clients("connect-json").queryOAuthClients(q({ keyword: target.clientId.toUpperCase() }));
    expect(res.clients.map((x) => x.id)).toEqual([target.id]);
  });

  it("pages, and says when nothing is found", async () => {
    const c = clients("connect-json");
    const page2 = await c.queryOAuthClients(q({ page: 2, pageSize: 3, sorting: { field: "name", order: SortOrder.ASC } }));
    expect(page2.clients.map((x) => x.name)).toEqual(["QC Gamma"]);
    expect(page2.meta).toMatchObject({ rowCount: 4, pageCount: 2 });
    expect(Object.keys(page2.meta?.filters ?? {}).sort()).toEqual(["confidential", "is_default", "pkce_required"]);
    expect(page2.meta?.filters).toMatchObject({
      pkce_required: { values: ["true", "false"] },
      is_default: { values: ["true", "false"] },
      confidential: { values: ["true", "false"] },
    });
    const none = await c.queryOAuthClients(q({ keyword: "no such client" }));
    expect(none).toMatchObject({ clients: [], message: "No OAuth clients found", meta: { rowCount: 0, pageCount: 0 } });
  });
});

describe("without ENCRYPTION_KEY", () => {
  let keyless: TestApi;
  beforeAll(async () => {
    keyless = await startTestApi({ ENCRYPTION_KEY: "" });
  });
  afterAll(async () => {
    await keyless?.close();
  });

  it("public clients work; sealing or revealing a secret is a clear FailedPrecondition", async () => {
    const c = keyless.client(OAuthClientService, "connect-json");
    const spa = await c.createOAuthClient({ name: "Keyless SPA", redirectUris: ["https://k.example.com/cb"], confidential: false });
    expect(spa.client?.confidential).toBe(false);
    const refused = await callError(c.createOAuthClient({ name: "Keyless app", redirectUris: ["https://k.example.com/cb"], confidential: true }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(detailOf(refused)).toEqual({ code: "60904", meta: {} });
    expect(refused.rawMessage).toContain("ENCRYPTION_KEY");
    // The seed could not seal the dashboard secret either, so there is no default client.
    const listed = await c.queryOAuthClients({ query: { pagination: { page: 1, pageSize: 10 } } });
    expect(listed.clients.map((x) => x.name)).toEqual(["Keyless SPA"]);
  });
});

describe("seedDashboardClient", () => {
  const freshDatabase = freshDatabases();
  const recorder = () => {
    const lines: Array<{ level: string; details: object; message: string }> = [];
    return {
      lines,
      info: (details: object, message: string) => void lines.push({ level: "info", details, message }),
      warn: (details: object, message: string) => void lines.push({ level: "warn", details, message }),
    };
  };
  const configWith = (env: Record<string, string>) => loadConfig({ ...TEST_ENV, ...env });
  const rowOf = async (sql: Sql) => {
    const rows = await sql<{ public_id: string; name: string; client_id: string; client_secret_sealed: string; redirect_uris: string[]; r: string }[]>`
      select public_id, name, client_id::text, client_secret_sealed, redirect_uris, t::text as r from altalune_oauth_clients t where is_default`;
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };

  it("is idempotent, and the configuration wins when it changes", async () => {
    const sql = await freshDatabase();
    const log = recorder();
    const config = configWith({});
    const key = config.encryptionKey!;
    expect(await seedDashboardClient(sql, config, log)).toBe("created");
    const first = await rowOf(sql);
    expect(openSecret(key, first.client_secret_sealed, `oauth_client:${TEST_ENV.DASHBOARD_CLIENT_ID}`)).toBe(TEST_ENV.DASHBOARD_CLIENT_SECRET);

    // Again, and through the full seed: nothing changes, not even the ciphertext.
    expect(await seedDashboardClient(sql, config, log)).toBe("unchanged");
    await seed(sql, { info: () => {} }, config);
    expect((await rowOf(sql)).r).toBe(first.r);

    // A renamed client keeps its name; a new secret is sealed, the rest stays.
    await sql`update altalune_oauth_clients set name = 'Ops Console' where is_default`;
    const newSecret = "rotated-dashboard-secret-abcdefghijklmnop";
    log.lines.length = 0;
    expect(await seedDashboardClient(sql, configWith({ DASHBOARD_CLIENT_SECRET: newSecret }), log)).toBe("updated");
    const rotated = await rowOf(sql);
    expect(rotated).toMatchObject({ public_id: first.public_id, name: "Ops Console", client_id: first.client_id, redirect_uris: first.redirect_uris });
    expect(openSecret(key, rotated.client_secret_sealed, `oauth_client:${first.client_id}`)).toBe(newSecret);
    expect(log.lines).toEqual([expect.objectContaining({ level: "info", details: expect.objectContaining({ changed: ["client_secret"] }) })]);
    expect(JSON.stringify(log.lines)).not.toContain(newSecret);

    // A new client id (upper case in the variable) and new redirect URIs: the old id's tokens go.
    const newId = "0D6A8C7E-1B2F-4C3D-8E9F-0A1B2C3D4E5F";
    await sql`insert into altalune_oidc_models (model, id, payload, client_id) values ('RefreshToken', 'old-dashboard-rt', '{}', ${first.client_id})`;
    log.lines.length = 0;
    const moved = configWith({ DASHBOARD_CLIENT_ID: newId, DASHBOARD_CLIENT_SECRET: newSecret, DASHBOARD_REDIRECT_URIS: "https://dash.example.com/auth/callback" });
    expect(await seedDashboardClient(sql, moved, log)).toBe("updated");
    const after = await rowOf(sql);
    expect(after).toMatchObject({ public_id: first.public_id, client_id: newId.toLowerCase(), redirect_uris: ["https://dash.example.com/auth/callback"] });
    expect(openSecret(key, after.client_secret_sealed, `oauth_client:${newId.toLowerCase()}`)).toBe(newSecret);
    expect(log.lines[0]?.details).toMatchObject({ changed: ["client_id", "client_secret", "redirect_uris"], revokedRows: 1 });
    expect(await sql`select 1 from altalune_oidc_models where id = 'old-dashboard-rt'`).toHaveLength(0);
    expect(await seedDashboardClient(sql, moved, log)).toBe("unchanged");
  });

  it("warns and skips without a client id or secret; refuses redirect URIs the API would refuse", async () => {
    const sql = await freshDatabase();
    const log = recorder();
    const unset = configWith({ DASHBOARD_CLIENT_ID: "", DASHBOARD_CLIENT_SECRET: "" });
    expect(await seedDashboardClient(sql, unset, log)).toBe("skipped");
    expect(log.lines).toEqual([
      { level: "warn", details: { missing: ["DASHBOARD_CLIENT_ID", "DASHBOARD_CLIENT_SECRET"] }, message: expect.stringContaining("not seeded") },
    ]);
    expect(await sql`select 1 from altalune_oauth_clients`).toHaveLength(0);

    await expect(seedDashboardClient(sql, configWith({ DASHBOARD_REDIRECT_URIS: "https://dash.example.com/cb?x=1" }), log)).rejects.toThrow(
      DashboardClientSeedError,
    );
    expect(await sql`select 1 from altalune_oauth_clients`).toHaveLength(0);
  });
});

describe("API scopes and projects of a client: the escalation rule", () => {
  const ok = { name: "Machine", redirectUris: ["https://m2m.example.com/cb"], confidential: true };
  let otherProject: string;
  /** A client:write holder with employee:read only, member of the default project only. */
  let limited: string;
  let readOnly: string;

  beforeAll(async () => {
    const [row] = await api.db.sql<{ public_id: string }[]>`
      insert into altalune_projects (public_id, name, timezone) values ('projclients002', 'Clients other', 'UTC') returning public_id`;
    otherProject = row!.public_id;
    const memberships = { [api.defaultProjectId]: "member" };
    // The superadmin's account, narrowed by the token: the rule reads what the token holds.
    limited = await api.token({ sub: api.superadmin.publicId, perms: ["client:read", "client:write", "employee:read"], memberships });
    readOnly = await api.token({ sub: api.superadmin.publicId, perms: ["client:read", "employee:read"], memberships });
  });

  const as = (token: string, transport: TransportName = "connect-json") => api.client(OAuthClientService, transport, { token });

  it("stores API scopes after the OIDC ones and shows them and the projects", async () => {
    const { client } = await clients().createOAuthClient({
      ...ok,
      allowedScopes: ["iam:write", "openid", "employee:read"],
      projectIds: [api.defaultProjectId],
    });
    issuedSecrets.push("");
    expect(client).toMatchObject({ allowedScopes: ["openid", "employee:read", "iam:write"], apiScopes: ["employee:read", "iam:write"], projectIds: [api.defaultProjectId] });
    const got = await clients("grpc-js").getOAuthClient({ id: client!.id });
    expect(got.client).toMatchObject({ apiScopes: ["employee:read", "iam:write"], projectIds: [api.defaultProjectId] });
    const cleared = await clients().updateOAuthClient({ id: client!.id, projectIds: { values: [] } });
    expect(cleared.client?.projectIds).toEqual([]);
  });

  it.each(SMOKE_TRANSPORTS)("refuses granting a scope or a project the caller lacks, over %s, and changes nothing", async (transport) => {
    const before = await api.db.sql`select count(*)::int as n from altalune_oauth_clients`;
    const scope = await callError(as(limited, transport).createOAuthClient({ ...ok, allowedScopes: ["openid", "employee:read", "iam:write"] }));
    expect(scope.code).toBe(Code.PermissionDenied);
    expect(detailOf(scope)).toEqual({ code: "60013", meta: { reason: "escalation", target: "permissions", missing: "iam:write" } });
    const project = await callError(as(limited, transport).createOAuthClient({ ...ok, allowedScopes: ["employee:read"], projectIds: [otherProject] }));
    expect(detailOf(project)).toEqual({ code: "60013", meta: { reason: "escalation", target: "projects", missing: otherProject } });
    expect(await api.db.sql`select count(*)::int as n from altalune_oauth_clients`).toEqual(before);
  });

  it("lets the caller grant what it holds and edit a client that holds more, adding nothing it lacks", async () => {
    const mine = await as(limited).createOAuthClient({ ...ok, allowedScopes: ["employee:read"], projectIds: [api.defaultProjectId] });
    expect(mine.client?.apiScopes).toEqual(["employee:read"]);
    const { client: big } = await clients().createOAuthClient({ ...ok, allowedScopes: ["iam:write", "employee:read"], projectIds: [otherProject] });
    await as(limited).updateOAuthClient({ id: big!.id, name: "Renamed" });
    // Narrowing is not granting.
    const narrowed = await as(limited).updateOAuthClient({ id: big!.id, allowedScopes: ["openid", "iam:write"] });
    expect(narrowed.client?.apiScopes).toEqual(["iam:write"]);
    const adding = await callError(as(limited).updateOAuthClient({ id: big!.id, allowedScopes: ["iam:write", "user:write"] }));
    expect(detailOf(adding)).toMatchObject({ code: "60013", meta: { missing: "user:write" } });
    const addingProject = await callError(as(limited).updateOAuthClient({ id: big!.id, projectIds: { values: [otherProject, "projclients003"] } }));
    expect(addingProject.code).toBe(Code.PermissionDenied);
    expect((await clients().getOAuthClient({ id: big!.id })).client).toMatchObject({ apiScopes: ["iam:write"], projectIds: [otherProject] });
  });

  it("reveals the secret of a client with scopes or projects only to a client:write holder holding all of them", async () => {
    const { client, clientSecret } = await clients().createOAuthClient({ ...ok, allowedScopes: ["employee:read"], projectIds: [api.defaultProjectId] });
    issuedSecrets.push(clientSecret);
    const byReader = await callError(as(readOnly).revealOAuthClientSecret({ id: client!.id }));
    expect(byReader.code).toBe(Code.PermissionDenied);
    expect(detailOf(byReader)).toEqual({ code: "60908", meta: { reason: "privileged_secret", client_id: client!.id, missing: "client:write" } });
    expect((await as(limited, "grpc-js").revealOAuthClientSecret({ id: client!.id })).clientSecret).toBe(clientSecret);
    const { client: elsewhere } = await clients().createOAuthClient({ ...ok, allowedScopes: ["employee:read"], projectIds: [otherProject] });
    const notMember = await callError(as(limited).revealOAuthClientSecret({ id: elsewhere!.id }));
    expect(detailOf(notMember)?.meta["missing"]).toBe(`project ${otherProject}`);
    // A client without API scopes or projects: client:read suffices, as before.
    const { client: plain } = await clients().createOAuthClient({ ...ok });
    expect((await as(readOnly).revealOAuthClientSecret({ id: plain!.id })).clientSecret).toEqual(expect.any(String));
  });
});

describe("secrets never reach the log", () => {
  it("no issued secret appears in any log line", () => {
    expect(issuedSecrets.length).toBeGreaterThan(5);
    const all = logLines.join("\n");
    for (const secret of issuedSecrets.filter((s) => s !== "")) expect(all).not.toContain(secret);
    expect(all).not.toContain(TEST_ENV.DASHBOARD_CLIENT_SECRET);
  });
});
