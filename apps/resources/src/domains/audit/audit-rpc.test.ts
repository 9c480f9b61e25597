import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as api from "@altalune/proto";
import { authRuleOf, isAudited, isReadOnly } from "@altalune/rpc";
import { newPublicId } from "@altalune/core";
import type { AuditEventRow } from "@altalune/test-kit";
import { DOMAIN_SERVICES } from "../../domains.js";
import { startTestApi, type TestApi, type TransportName } from "../../testing/api-harness.js";

// The audit log of the RPCs, generated from the descriptors like the authorization matrix: every
// mutating RPC (and every audited read) called successfully writes exactly one row, with its
// change; refused or failed calls of an authenticated caller write one row with their code and
// change nothing; anonymous refusals write nothing. A mutating RPC without a recipe below fails
// the test, so a new one cannot go unaudited unnoticed.

// Every registered domain's service (domains.ts).
const services = DOMAIN_SERVICES;
const audited = services.flatMap((s) => s.methods.filter((m) => isAudited(m, authRuleOf(m)!)).map((m) => ({ service: s, method: m })));

type AnyCall = (request: unknown, options?: { headers?: Record<string, string> }) => Promise<Record<string, unknown>>;
type Request = Record<string, unknown>;

interface Recipe {
  /** Builds the request, making whatever it needs first (those calls have their own rows). */
  request(): Promise<Request>;
  /** A create's new id, from its response (the row's target). */
  created?(response: Record<string, unknown>): string;
}

let t: TestApi;
let tag = 0;
const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${(tag++).toString(36)}`;
/** Letters only (employee names refuse digits). */
const letters = (n: number) => String.fromCharCode(...[...n.toString(26)].map((c) => 97 + parseInt(c, 26)));
const expiration = () => ({ seconds: BigInt(Math.floor(Date.now() / 1000) + 7 * 86400), nanos: 0 });

/** Every secret value a call of this file sends or receives: none may appear in the audit table. */
const secrets: string[] = [];

const client = <S extends DescService>(s: S) => t.client(s, "connect-json") as unknown as Record<string, AnyCall>;
const id = (res: Record<string, unknown>, field: string) => (res[field] as { id: string }).id;

const fixtures = {
  employee: async () =>
    id(await client(api.EmployeeService).createEmployee!({ projectId: t.defaultProjectId, name: `Audit ${letters(tag++)}`, email: `${unique("e")}@audit.test`, role: "Engineer", department: "Platform", status: api.EmployeeStatus.ACTIVE }), "employee"),
  apiKey: async () => {
    const res = await client(api.ApiKeyService).createApiKey!({ projectId: t.defaultProjectId, name: unique("key "), expiration: expiration() });
    secrets.push(res["keyValue"] as string);
    return id(res, "apiKey");
  },
  user: async () => id(await client(api.UserService).createUser!({ email: `${unique("u")}@audit.test`, firstName: "Audit", lastName: "User" }), "user"),
  role: async () => id(await client(api.RoleService).createRole!({ name: unique("role_"), description: "audit" }), "role"),
  permission: async () => id(await client(api.PermissionService).createPermission!({ name: unique("audit_perm:"), description: "audit" }), "permission"),
  project: async () => id(await client(api.ProjectService).createProject!({ name: unique("Audit project "), timezone: "UTC", environment: "sandbox" }), "project"),
  oauthClient: async () => {
    const res = await client(api.OAuthClientService).createOAuthClient!({ name: unique("Audit client "), redirectUris: ["https://audit.example.com/cb"], confidential: true });
    secrets.push(res["clientSecret"] as string);
    return (res["client"] as { id: string }).id;
  },
  oauthProvider: async () => {
    const secret = unique("provider-secret-");
    secrets.push(secret);
    const slug = unique("idp").toLowerCase();
    return id(await client(api.OAuthProviderService).createOAuthProvider!({ providerType: api.ProviderType.OIDC, slug, issuerUrl: "https://idp.example.com", clientId: "audit-client", clientSecret: secret }), "provider");
  },
};

const projectId = () => t.defaultProjectId;

/** What a service's `id` (or a create's new id) names; `<x>_id` fields name an `<x>`. */
const ENTITY: Record<string, string> = {
  ApiKeyService: "api_key",
  EmployeeService: "employee",
  OAuthClientService: "oauth_client",
  OAuthProviderService: "oauth_provider",
  PermissionService: "permission",
  ProjectService: "project",
  RoleService: "role",
  UserService: "user",
};
const secret = (value: string) => {
  secrets.push(value);
  return value;
};

const RECIPES: Record<string, Recipe> = {
  "ApiKeyService/CreateApiKey": { request: async () => ({ projectId: projectId(), name: unique("key "), expiration: expiration() }), created: (r) => id(r, "apiKey") },
  "ApiKeyService/UpdateApiKey": { request: async () => ({ projectId: projectId(), apiKeyId: await fixtures.apiKey(), name: unique("renamed "), expiration: expiration() }) },
  "ApiKeyService/DeleteApiKey": { request: async () => ({ projectId: projectId(), apiKeyId: await fixtures.apiKey() }) },
  "ApiKeyService/ActivateApiKey": {
    request: async () => {
      const key = await fixtures.apiKey();
      await client(api.ApiKeyService).deactivateApiKey!({ projectId: projectId(), apiKeyId: key });
      return { projectId: projectId(), apiKeyId: key };
    },
  },
  "ApiKeyService/DeactivateApiKey": { request: async () => ({ projectId: projectId(), apiKeyId: await fixtures.apiKey() }) },
  "EmployeeService/CreateEmployee": {
    request: async () => ({ projectId: projectId(), name: `Audit ${letters(tag++)}`, email: `${unique("new")}@audit.test`, role: "Engineer", department: "Platform", status: api.EmployeeStatus.ACTIVE }),
    created: (r) => id(r, "employee"),
  },
  "EmployeeService/UpdateEmployee": {
    request: async () => ({ projectId: projectId(), employeeId: await fixtures.employee(), name: `Renamed ${letters(tag++)}`, email: `${unique("upd")}@audit.test`, role: "Manager", department: "Sales", status: api.EmployeeStatus.INACTIVE }),
  },
  "EmployeeService/DeleteEmployee": { request: async () => ({ projectId: projectId(), employeeId: await fixtures.employee() }) },
  "IAMMapperService/AssignUserRoles": { request: async () => ({ userId: await fixtures.user(), roleIds: [await fixtures.role()] }) },
  "IAMMapperService/RemoveUserRoles": {
    request: async () => {
      const [userId, roleId] = [await fixtures.user(), await fixtures.role()];
      await client(api.IAMMapperService).assignUserRoles!({ userId, roleIds: [roleId] });
      return { userId, roleIds: [roleId] };
    },
  },
  "IAMMapperService/AssignRolePermissions": { request: async () => ({ roleId: await fixtures.role(), permissionIds: [await fixtures.permission()] }) },
  "IAMMapperService/RemoveRolePermissions": {
    request: async () => {
      const [roleId, permissionId] = [await fixtures.role(), await fixtures.permission()];
      await client(api.IAMMapperService).assignRolePermissions!({ roleId, permissionIds: [permissionId] });
      return { roleId, permissionIds: [permissionId] };
    },
  },
  "IAMMapperService/AssignUserPermissions": { request: async () => ({ userId: await fixtures.user(), permissionIds: [await fixtures.permission()] }) },
  "IAMMapperService/RemoveUserPermissions": {
    request: async () => {
      const [userId, permissionId] = [await fixtures.user(), await fixtures.permission()];
      await client(api.IAMMapperService).assignUserPermissions!({ userId, permissionIds: [permissionId] });
      return { userId, permissionIds: [permissionId] };
    },
  },
  "IAMMapperService/AssignProjectMembers": { request: async () => ({ projectId: await fixtures.project(), members: [{ userId: await fixtures.user(), role: "member" }] }) },
  "IAMMapperService/RemoveProjectMembers": {
    request: async () => {
      const [project, userId] = [await fixtures.project(), await fixtures.user()];
      await client(api.IAMMapperService).assignProjectMembers!({ projectId: project, members: [{ userId, role: "member" }] });
      return { projectId: project, userIds: [userId] };
    },
  },
  "OAuthClientService/CreateOAuthClient": {
    request: async () => ({ name: unique("Created client "), redirectUris: ["https://created.example.com/cb"], confidential: true }),
    created: (r) => {
      secrets.push(r["clientSecret"] as string);
      return id(r, "client");
    },
  },
  "OAuthClientService/UpdateOAuthClient": { request: async () => ({ id: await fixtures.oauthClient(), name: unique("Renamed client ") }) },
  "OAuthClientService/DeleteOAuthClient": { request: async () => ({ id: await fixtures.oauthClient() }) },
  "OAuthClientService/RevealOAuthClientSecret": { request: async () => ({ id: await fixtures.oauthClient() }) },
  "OAuthProviderService/CreateOAuthProvider": {
    request: async () => ({ providerType: api.ProviderType.OIDC, slug: unique("new").toLowerCase(), issuerUrl: "https://new.example.com", clientId: "new-client", clientSecret: secret(unique("created-secret-")) }),
    created: (r) => id(r, "provider"),
  },
  "OAuthProviderService/UpdateOAuthProvider": {
    request: async () => ({ id: await fixtures.oauthProvider(), clientId: "rotated-client", clientSecret: secret(unique("rotated-secret-")), enabled: true }),
  },
  "OAuthProviderService/DeleteOAuthProvider": { request: async () => ({ id: await fixtures.oauthProvider() }) },
  "OAuthProviderService/RevealClientSecret": { request: async () => ({ id: await fixtures.oauthProvider() }) },
  "PermissionService/CreatePermission": { request: async () => ({ name: unique("created_perm:"), description: "created" }), created: (r) => id(r, "permission") },
  "PermissionService/UpdatePermission": { request: async () => ({ id: await fixtures.permission(), name: unique("renamed_perm:"), description: "renamed" }) },
  "PermissionService/DeletePermission": { request: async () => ({ id: await fixtures.permission() }) },
  "ProjectService/CreateProject": { request: async () => ({ name: unique("Created project "), timezone: "UTC", environment: "sandbox" }), created: (r) => id(r, "project") },
  "ProjectService/UpdateProject": { request: async () => ({ id: await fixtures.project(), name: unique("Renamed project "), timezone: "Europe/Berlin" }) },
  "ProjectService/DeleteProject": { request: async () => ({ id: await fixtures.project() }) },
  "RoleService/CreateRole": { request: async () => ({ name: unique("created_role_"), description: "created" }), created: (r) => id(r, "role") },
  "RoleService/UpdateRole": { request: async () => ({ id: await fixtures.role(), name: unique("renamed_role_"), description: "renamed" }) },
  "RoleService/DeleteRole": { request: async () => ({ id: await fixtures.role() }) },
  "UserService/CreateUser": { request: async () => ({ email: `${unique("created")}@audit.test`, firstName: "Created", lastName: "User" }), created: (r) => id(r, "user") },
  "UserService/UpdateUser": { request: async () => ({ id: await fixtures.user(), email: `${unique("moved")}@audit.test`, firstName: "Renamed", lastName: "User" }) },
  "UserService/DeleteUser": { request: async () => ({ id: await fixtures.user() }) },
  "UserService/ActivateUser": {
    request: async () => {
      const user = await fixtures.user();
      await client(api.UserService).deactivateUser!({ id: user });
      return { id: user };
    },
  },
  "UserService/DeactivateUser": { request: async () => ({ id: await fixtures.user() }) },
};

/** The whole row (`a.*`) and its text form, which no secret of the call may be in. */
type Row = Omit<AuditEventRow, "details"> & { text: string };

async function rowsOf(requestId: string): Promise<Row[]> {
  return t.db.sql<Row[]>`
    select a.*, a::text as text from altalune_audit_events a where request_id = ${requestId} order by id`;
}

/** altalune_audit_events_total by (result, written), from the metrics port. */
async function auditCounters(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${t.server.metricsPort}/metrics`)).text();
  const counters = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^altalune_audit_events_total\{(.*)\} (\d+)$/.exec(line);
    if (match === null) continue;
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    counters.set(`${labels["result"]}/${labels["written"]}`, Number(match[2]));
  }
  return counters;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of after) if (n !== (before.get(key) ?? 0)) out[key] = n - (before.get(key) ?? 0);
  return out;
}

/** Every row of every table but the audit log's: "changes nothing" means this stays equal. */
async function snapshot(): Promise<Record<string, string>> {
  const tables = await t.db.sql<{ relname: string }[]>`
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind in ('r', 'p') and not c.relispartition
      and c.relname like 'altalune%' and c.relname not in ('altalune_audit_events', 'altalune_migrations')
    order by c.relname`;
  const out: Record<string, string> = {};
  for (const { relname } of tables) {
    const [row] = await t.db.sql<{ h: string }[]>`select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${t.db.sql(relname)} x`;
    out[relname] = row!.h;
  }
  return out;
}

function call(service: DescService, method: DescMethod, transport: TransportName, token: string | null | undefined, headers: Record<string, string>) {
  const c = t.client(service, transport, token === undefined ? { headers } : { token, headers }) as unknown as Record<string, AnyCall>;
  return (request: Request) => c[method.localName]!(create(method.input, request as never));
}

/** Strings of the request that are not ids the row names (the target, the project): never in the row. */
function valuesOf(request: Request, row: Row): string[] {
  const out: string[] = [];
  const visit = (v: unknown) => {
    if (typeof v === "string") {
      if (v.length >= 8 && v !== row.target_public_id && v !== row.project_public_id) out.push(v);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === "object" && !(v instanceof Date)) Object.values(v).forEach(visit);
  };
  visit(request);
  return out;
}

let outsiderToken: string;
let outsider: string;

beforeAll(async () => {
  t = await startTestApi();
  outsider = await fixtures.user();
  outsiderToken = await t.token({ sub: outsider, perms: [], memberships: { [t.defaultProjectId]: "member" } });
  secrets.push(t.rootToken, outsiderToken);
});

afterAll(async () => {
  await t?.close();
});

describe("the audit log of the RPCs", () => {
  it("declares the mutations and audited reads, and has a recipe for each", () => {
    expect(audited.length).toBeGreaterThan(30);
    expect(audited.filter(({ method }) => isReadOnly(method)).map(({ method }) => method.name).sort()).toEqual(["RevealClientSecret", "RevealOAuthClientSecret"]);
    const missing = audited.map(({ service, method }) => `${service.name}/${method.name}`).filter((name) => RECIPES[name] === undefined);
    expect(missing, "a mutating RPC without a recipe here is not known to be audited").toEqual([]);
  });

  it("writes exactly one row per successful call, with its change, naming caller, target, project and the fields sent", async () => {
    const problems: string[] = [];
    for (const { service, method } of audited) {
      const name = `${service.name}/${method.name}`;
      const recipe = RECIPES[name]!;
      const request = await recipe.request();
      const requestId = `audit-ok-${method.name}-${tag++}`;
      const before = await auditCounters();
      const response = await call(service, method, "connect-binary", undefined, { "x-request-id": requestId })(request);
      const moved = delta(before, await auditCounters());
      for (const key of ["clientSecret", "keyValue"]) if (typeof response[key] === "string" && response[key] !== "") secrets.push(response[key]);
      const rows = await rowsOf(requestId);
      if (rows.length !== 1) {
        problems.push(`${name}: ${rows.length} rows`);
        continue;
      }
      const row = rows[0]!;
      const targetField = method.input.fields.find((f) => f.name === "id") ?? method.input.fields.find((f) => f.name.endsWith("_id") && f.name !== "project_id");
      const expectedTarget = recipe.created?.(response) ?? (targetField === undefined ? request["projectId"] : request[targetField.localName]);
      const expected = {
        action: `${service.typeName}/${method.name}`,
        target_type: targetField === undefined || recipe.created !== undefined ? (recipe.created === undefined ? "project" : ENTITY[service.name]) : targetField.name === "id" ? ENTITY[service.name] : targetField.name.slice(0, -3),
        actor_type: "user",
        actor_public_id: t.superadmin.publicId,
        result: "ok",
        target_public_id: expectedTarget,
        project_public_id: (request["projectId"] as string | undefined) ?? (row.target_type === "project" ? expectedTarget : null),
      };
      const got = Object.fromEntries(Object.keys(expected).map((k) => [k, row[k as keyof Row]]));
      if (JSON.stringify(got) !== JSON.stringify(expected)) problems.push(`${name}: ${JSON.stringify(got)} != ${JSON.stringify(expected)}`);
      const fieldNames = new Set(method.input.fields.map((f) => f.name));
      if (!(row.changed_fields ?? []).every((f) => fieldNames.has(f))) problems.push(`${name}: changed_fields ${JSON.stringify(row.changed_fields)}`);
      const leaked = valuesOf(request, row).filter((v) => row.text.includes(v));
      if (leaked.length > 0) problems.push(`${name}: values in the row: ${leaked.join(", ")}`);
      // Mutations write their row in the change's statement or transaction; reveals change nothing.
      const written = isReadOnly(method) ? "separate" : "with_change";
      if (JSON.stringify(moved) !== JSON.stringify({ [`ok/${written}`]: 1 })) problems.push(`${name}: counters moved ${JSON.stringify(moved)}`);
      if (isReadOnly(method) !== row.tags.includes("secret_revealed")) problems.push(`${name}: tags ${JSON.stringify(row.tags)}`);
    }
    expect(problems).toEqual([]);
  });

  it("records refusals and failures of authenticated callers with their code, changing nothing; anonymous refusals only count", async () => {
    const before = await snapshot();
    const counters = await auditCounters();
    const problems: string[] = [];
    let authenticated = 0;
    for (const { service, method } of audited) {
      const name = `${service.name}/${method.name}`;
      const empty: Request = method.input.fields.some((f) => f.name === "project_id") ? { projectId: t.defaultProjectId } : {};
      const cases: Array<{ who: string; token: string | null | undefined; want?: Code }> = [
        { who: "anonymous", token: null, want: Code.Unauthenticated },
        { who: "outsider", token: outsiderToken, want: Code.PermissionDenied },
        // Root with an empty request: invalid, or naming nothing that exists.
        { who: "root", token: undefined },
      ];
      for (const c of cases) {
        const requestId = `audit-fail-${c.who}-${method.name}-${tag++}`;
        const error = await call(service, method, "grpc-js", c.token, { "x-request-id": requestId })(empty).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        if (error === undefined) {
          problems.push(`${name} as ${c.who}: succeeded with an empty request`);
          continue;
        }
        if (c.want !== undefined && error.code !== c.want) problems.push(`${name} as ${c.who}: ${Code[error.code]}`);
        const rows = await rowsOf(requestId);
        if (c.token === null) {
          if (rows.length !== 0) problems.push(`${name} anonymous: ${rows.length} rows`);
          continue;
        }
        authenticated++;
        const actor = c.token === undefined ? t.superadmin.publicId : outsider;
        const got = rows.map((r) => `${r.action} ${r.result} ${r.actor_public_id} ${JSON.stringify(r.tags.filter((x) => x !== "security"))}`);
        const want = [`${service.typeName}/${method.name} ${Code[error.code]} ${actor} []`];
        if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${name} as ${c.who}: ${JSON.stringify(got)}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await snapshot()).toEqual(before);
    const moved = delta(counters, await auditCounters());
    expect(Object.entries(moved).filter(([k]) => k.endsWith("/separate")).reduce((n, [, v]) => n + v, 0)).toBe(authenticated);
    expect(moved["Unauthenticated/no"]).toBe(audited.length);
  });

  it("tags security events in the same single row: redirect URIs changed, email change requested", async () => {
    const target = await fixtures.oauthClient();
    const repoint = "audit-tag-redirect";
    await call(api.OAuthClientService, api.OAuthClientService.method.updateOAuthClient, "connect-json", undefined, { "x-request-id": repoint })({
      id: target,
      redirectUris: ["https://elsewhere.example.com/cb"],
    });
    const same = "audit-tag-same";
    await call(api.OAuthClientService, api.OAuthClientService.method.updateOAuthClient, "connect-json", undefined, { "x-request-id": same })({
      id: target,
      redirectUris: ["https://elsewhere.example.com/cb"],
    });
    expect((await rowsOf(repoint)).map((r) => r.tags)).toEqual([["security", "redirect_uris_changed"]]);
    expect((await rowsOf(same)).map((r) => r.tags)).toEqual([[]]);

    const user = await fixtures.user();
    const move = "audit-tag-email";
    await call(api.UserService, api.UserService.method.updateUser, "connect-json", undefined, { "x-request-id": move })({
      id: user,
      email: "moved-tag@audit.test",
      firstName: "Audit",
      lastName: "User",
    });
    const [row] = await rowsOf(move);
    expect(row?.tags).toEqual(["security", "email_change_requested"]);
    expect(row?.changed_fields).toEqual(["email", "first_name", "last_name"]);
    expect(row?.text).not.toContain("moved-tag@audit.test");

    // Deleting a provider unlinks the identities users signed in with through it.
    const provider = await fixtures.oauthProvider();
    const [slug] = await t.db.sql<{ slug: string }[]>`select slug from altalune_oauth_providers where public_id = ${provider}`;
    await t.db.sql`
      insert into altalune_user_identities (public_id, user_id, provider, provider_user_id, email)
      select ${newPublicId()}, id, ${slug!.slug}, 'upstream-sub', null from altalune_users where public_id = ${user}`;
    const unlink = "audit-tag-unlink";
    await call(api.OAuthProviderService, api.OAuthProviderService.method.deleteOAuthProvider, "connect-json", undefined, { "x-request-id": unlink })({ id: provider });
    expect((await rowsOf(unlink)).map((r) => r.tags)).toEqual([["security", "identities_unlinked"]]);
  });

  it("records where the call came from: client address, user agent, trace id, on either port", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const headers = { "x-request-id": "audit-origin-connect", traceparent: `00-${traceId}-00f067aa0ba902b7-01`, "user-agent": "audit-test-agent/1.0" };
    await call(api.RoleService, api.RoleService.method.createRole, "connect-json", undefined, headers)({ name: unique("origin_"), description: "" });
    await call(api.RoleService, api.RoleService.method.createRole, "grpc-js", undefined, { "x-request-id": "audit-origin-grpc" })({ name: unique("origin_"), description: "" });
    const [viaConnect] = await rowsOf("audit-origin-connect");
    const [viaGrpc] = await rowsOf("audit-origin-grpc");
    expect(viaConnect).toMatchObject({ client_address: "127.0.0.1", user_agent: "audit-test-agent/1.0", trace_id: traceId });
    expect(viaGrpc?.client_address).toBe("127.0.0.1");
    expect(viaGrpc?.user_agent).toMatch(/grpc-node-js/);
  });

  it("answers a secret reveal with Cache-Control: no-store, by POST and by GET (a side-effect-free method)", async () => {
    const id = await fixtures.oauthClient();
    const path = `${t.baseUrl}/altalune.v1.OAuthClientService/RevealOAuthClientSecret`;
    const auth = { authorization: `Bearer ${t.rootToken}` };
    const post = await fetch(path, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ id }) });
    const get = await fetch(`${path}?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ id }))}`, { headers: auth });
    for (const res of [post, get]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(((await res.json()) as { clientSecret?: string }).clientSecret).toBeTruthy();
    }
  });

  it("commits no change without its row: a row that cannot be written takes the change with it", async () => {
    // The audit table refuses this request id: the change's statement or transaction must fail whole.
    await t.db.sql`alter table altalune_audit_events add constraint audit_test_refuse check (request_id is distinct from 'audit-refused')`;
    try {
      const headers = { "x-request-id": "audit-refused" };
      const name = `Refused ${letters(tag++)}`;
      const employee = call(api.EmployeeService, api.EmployeeService.method.createEmployee, "connect-json", undefined, headers);
      await expect(employee({ projectId: t.defaultProjectId, name, email: "refused@audit.test", role: "Engineer", department: "Platform", status: api.EmployeeStatus.ACTIVE })).rejects.toThrow();
      const role = await fixtures.role();
      await expect(call(api.RoleService, api.RoleService.method.updateRole, "connect-json", undefined, headers)({ id: role, name: "refused_rename", description: "" })).rejects.toThrow();
      const project = unique("Refused project ");
      await expect(call(api.ProjectService, api.ProjectService.method.createProject, "connect-json", undefined, headers)({ name: project, timezone: "UTC", environment: "sandbox" })).rejects.toThrow();
      expect(await t.db.sql`select 1 from altalune_example_employees where email = 'refused@audit.test'`).toHaveLength(0);
      expect(await t.db.sql`select 1 from altalune_roles where name = 'refused_rename'`).toHaveLength(0);
      expect(await t.db.sql`select 1 from altalune_projects where name = ${project}`).toHaveLength(0);
    } finally {
      await t.db.sql`alter table altalune_audit_events drop constraint audit_test_refuse`;
    }
  });

  it("never writes a secret, key, token or the request's values", async () => {
    expect(secrets.length).toBeGreaterThan(10);
    const rows = await t.db.sql<{ text: string }[]>`select a::text as text from altalune_audit_events a`;
    expect(rows.length).toBeGreaterThan(100);
    const found = secrets.filter((s) => rows.some((r) => r.text.includes(s)));
    expect(found).toEqual([]);
  });
});
