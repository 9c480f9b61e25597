import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, ScalarType, type DescField, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as api from "@altalune/proto";
import { authRuleOf } from "@altalune/rpc";
import { loadAuthorization } from "@altalune/auth/testing";
import { seed } from "@altalune/resources";
import { API_KEY_PERMISSIONS, DOMAIN_SERVICES, detailOf, startTestApi, type TestApi, type TransportName } from "@altalune/resources/testing";

// The escalation test: an actor holding only a narrow admin permission (or a plausible pair),
// plus `dashboard:read`, calls every mutating RPC of the API's descriptors with the most
// damaging arguments a field's name suggests (the superadmin, its role, `root`, `iam:write`, a
// powerful custom role and permission, an address the attacker reads, a foreign redirect URI).
// Afterwards nobody may hold more than before, except by delegation of what the actor itself
// holds: the actor's own effective permissions (a fresh token's claims) ⊆ what it started with;
// every other user's ⊆ theirs ∪ the actor's; users the actor does not fully cover keep their
// email, activation and existence. Profiles come from the rules in the descriptors, so a new
// permission or a new RPC is covered without editing this file.

// Every registered domain's service (apps/resources/src/domains.ts).
const services = DOMAIN_SERVICES;

const isMutating = (m: DescMethod) => !/^(Get|Query)/.test(m.name);

/** Every permission the rules name. */
const rulePermissions = [
  ...new Set(
    services.flatMap((s) =>
      s.methods.flatMap((m) => {
        const rule = authRuleOf(m);
        return rule === undefined ? [] : [rule.permission, ...rule.anyPermission].filter((p) => p !== "");
      }),
    ),
  ),
].sort();

const PAIRS: ReadonlyArray<readonly string[]> = [
  ["client:read", "client:write"],
  ["iam:write", "role:write"],
  ["user:write", "iam:write"],
  ["permission:write", "role:write"],
];

const PROFILES: ReadonlyArray<readonly string[]> = [
  ...rulePermissions.filter((p) => /:(write|delete)$/.test(p) || /^(provider|client):/.test(p)).map((p) => [p]),
  ...PAIRS,
].map((perms) => [...new Set([...perms, "dashboard:read"])].sort());

let t: TestApi;
const ids = {
  superadmin: "",
  victim: "",
  weakling: "",
  superadminRole: "",
  opsRole: "",
  defaultRole: "",
  weakRole: "",
  root: "",
  iamWrite: "",
  custom: "",
  dashboardRead: "",
  otherProject: "",
  dashboardClient: "",
  thirdPartyClient: "",
  provider: "",
  apiKey: "",
};

type AnyCall = (request: unknown, options?: { headers?: Record<string, string> }) => Promise<unknown>;

interface UserSnapshot {
  publicId: string;
  email: string;
  pendingEmail: string | null;
  active: boolean;
  perms: Set<string>;
  projects: Set<string>;
}

interface World {
  users: Map<string, UserSnapshot>;
  roles: Map<string, Set<string>>;
  dashboardRedirects: string;
  /** Sum of the active API keys' expirations (seconds). */
  activeApiKeys: number;
}

async function snapshot(): Promise<World> {
  const sql = t.db.sql;
  const rows = await sql<{ public_id: string; email: string; pending_email: string | null; is_active: boolean }[]>`
    select public_id, email, pending_email, is_active from altalune_users order by id`;
  const users = new Map<string, UserSnapshot>();
  for (const r of rows) {
    // What a fresh access token of this user would carry (the auth server's own claim builder).
    const authz = await loadAuthorization(sql, r.public_id);
    users.set(r.public_id, {
      publicId: r.public_id,
      email: r.email,
      pendingEmail: r.pending_email,
      active: r.is_active,
      perms: new Set(authz.perms),
      projects: new Set(Object.keys(authz.memberships)),
    });
  }
  const rolePerms = await sql<{ role: string; key: string | null }[]>`
    select r.public_id as role, coalesce(p.system_key, p.name) as key
    from altalune_roles r
    left join altalune_roles_permissions rp on rp.role_id = r.id
    left join altalune_permissions p on p.id = rp.permission_id`;
  const roles = new Map<string, Set<string>>();
  for (const r of rolePerms) {
    const set = roles.get(r.role) ?? new Set<string>();
    if (r.key !== null) set.add(r.key);
    roles.set(r.role, set);
  }
  const [client] = await sql<{ uris: string }[]>`
    select array_to_string(redirect_uris, ' ') as uris from altalune_oauth_clients where is_default`;
  // Active key-seconds: creating, reactivating or extending a key all make it grow.
  const [keys] = await sql<{ n: number }[]>`
    select coalesce(sum(extract(epoch from expiration)), 0)::float8 as n from altalune_project_api_keys where active`;
  return { users, roles, dashboardRedirects: client?.uris ?? "", activeApiKeys: keys?.n ?? 0 };
}

const subset = (a: ReadonlySet<string>, b: ReadonlySet<string>) => [...a].every((x) => b.has(x));
const union = (...sets: ReadonlySet<string>[]) => new Set(sets.flatMap((s) => [...s]));

let mailbox = 0;

/** Candidate values for a field, by its name and its service: the targets an attacker would pick. */
function candidates(service: DescService, field: DescField, actor: string): unknown[] | undefined {
  const users = [ids.superadmin, ids.victim, ids.weakling, actor];
  const roles = [ids.superadminRole, ids.opsRole, ids.defaultRole, ids.weakRole];
  const perms = [ids.root, ids.iamWrite, ids.custom, ids.dashboardRead];
  const byService: Record<string, unknown[]> = {
    UserService: users,
    RoleService: roles,
    PermissionService: perms,
    OAuthClientService: [ids.dashboardClient, ids.thirdPartyClient],
    OAuthProviderService: [ids.provider],
    ProjectService: [t.defaultProjectId, ids.otherProject],
  };
  switch (field.name) {
    case "id":
      return byService[service.name];
    case "api_key_id":
      return [ids.apiKey];
    case "user_id":
      return users;
    case "user_ids":
      return users.map((u) => [u]);
    case "role_id":
      return roles;
    case "role_ids":
      return roles.map((r) => [r]);
    case "permission_id":
      return perms;
    case "permission_ids":
      return perms.map((p) => [p]);
    case "project_id":
      return [t.defaultProjectId, ids.otherProject];
    case "members":
      return [[{ userId: actor, role: "owner" }], [{ userId: ids.superadmin, role: "user" }]];
    case "email":
      return ["attacker@evil.test"];
    case "name":
      if (service.name === "PermissionService") return ["iam:write", "root", "billing:approve", "Dashboard:Read"];
      if (service.name === "RoleService") return ["superadmin", "user", "Ops"];
      return ["Escalation"];
    case "redirect_uris":
      return [["https://evil.test/callback"]];
    default:
      return undefined;
  }
}

/** A plausible value for fields no attack is about, so that calls get past validation. */
function filler(field: DescField): unknown {
  if (field.fieldKind === "scalar") {
    if (field.scalar === ScalarType.STRING) return "escalation-test";
    if (field.scalar === ScalarType.BOOL) return true;
    return undefined;
  }
  if (field.fieldKind === "enum") return field.enum.values[1]?.number;
  if (field.fieldKind === "list" && field.listKind === "scalar" && field.scalar === ScalarType.STRING) return ["escalation-test"];
  if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.Timestamp") {
    return { seconds: BigInt(Math.floor(Date.now() / 1000) + 30 * 86400), nanos: 0 };
  }
  return undefined;
}

/** Every combination of the fields' candidates (the attacker picks the pair), at most MAX_ATTACKS. */
const MAX_ATTACKS = 32;

function attacks(service: DescService, method: DescMethod, actor: string) {
  const fields = method.input.fields.map((f) => ({ f, values: candidates(service, f, actor) }));
  let combos: Record<string, unknown>[] = [{}];
  for (const { f, values } of fields) {
    const options = values ?? [filler(f)];
    combos = combos.flatMap((c) => options.map((v) => (v === undefined ? c : { ...c, [f.localName]: v })));
  }
  expect(combos.length, `${service.name}/${method.name}: too many combinations`).toBeLessThanOrEqual(MAX_ATTACKS);
  // Fresh addresses per attempt: one address reused would collide with itself (AlreadyExists).
  return combos.map((init) => create(method.input, ("email" in init ? { ...init, email: `attacker+${++mailbox}@evil.test` } : init) as never));
}

beforeAll(async () => {
  t = await startTestApi();
  ids.superadmin = t.superadmin.publicId;
  const [dashboard] = await t.db.sql<{ public_id: string }[]>`select public_id from altalune_oauth_clients where is_default`;
  ids.dashboardClient = dashboard!.public_id;
});

const asRoot = <S extends DescService>(s: S) => t.client(s, "connect-binary");

async function systemRow(table: "altalune_roles" | "altalune_permissions", key: string): Promise<string> {
  const [row] = await t.db.sql<{ public_id: string }[]>`select public_id from ${t.db.sql(table)} where system_key = ${key}`;
  if (row === undefined) throw new Error(`no ${table} row with key ${key}`);
  return row.public_id;
}

const exists = async (table: string, publicId: string) =>
  publicId !== "" && (await t.db.sql`select 1 from ${t.db.sql(table)} where public_id = ${publicId}`).length > 0;

/**
 * The targets, recreated when an earlier profile legitimately removed one (a `role:delete` holder
 * may delete the default role: it grants only what that holder holds).
 */
async function prepareTargets(): Promise<void> {
  await seed(t.db.sql, { info: () => {} }, { superadminEmail: t.superadmin.email });
  ids.superadminRole = await systemRow("altalune_roles", "superadmin");
  ids.defaultRole = await systemRow("altalune_roles", "user");
  ids.root = await systemRow("altalune_permissions", "root");
  ids.iamWrite = await systemRow("altalune_permissions", "iam:write");
  ids.dashboardRead = await systemRow("altalune_permissions", "dashboard:read");
  const iam = asRoot(api.IAMMapperService);
  if (!(await exists("altalune_permissions", ids.custom))) {
    ids.custom = (await asRoot(api.PermissionService).createPermission({ name: "billing:approve", description: "custom" })).permission!.id;
  }
  // A powerful administrator (the victim): every permission but root, through a custom role.
  if (!(await exists("altalune_roles", ids.opsRole))) {
    ids.opsRole = (await asRoot(api.RoleService).createRole({ name: `Ops ${++mailbox}`, description: "operators" })).role!.id;
  }
  if (!(await exists("altalune_users", ids.victim))) {
    ids.victim = (await asRoot(api.UserService).createUser({ email: `victim${++mailbox}@corp.test`, firstName: "Vic", lastName: "Tim" })).user!.id;
  }
  await iam.assignUserRoles({ userId: ids.victim, roleIds: [ids.opsRole] });
  const allButRoot = await t.db.sql<{ public_id: string }[]>`
    select public_id from altalune_permissions where system_key is distinct from 'root'`;
  await iam.assignRolePermissions({ roleId: ids.opsRole, permissionIds: allButRoot.map((p) => p.public_id) });
  if (!(await exists("altalune_roles", ids.weakRole))) {
    ids.weakRole = (await asRoot(api.RoleService).createRole({ name: `Weak ${++mailbox}`, description: "weak" })).role!.id;
    await iam.assignRolePermissions({ roleId: ids.weakRole, permissionIds: [ids.dashboardRead] });
  }
  if (!(await exists("altalune_users", ids.weakling))) {
    ids.weakling = (await asRoot(api.UserService).createUser({ email: `weak${++mailbox}@corp.test`, firstName: "We", lastName: "Ak" })).user!.id;
  }
  if (!(await exists("altalune_projects", ids.otherProject))) {
    ids.otherProject = (
      await asRoot(api.ProjectService).createProject({ name: `Escalation other ${++mailbox}`, timezone: "UTC", environment: "sandbox" })
    ).project!.id;
  }
  if (!(await exists("altalune_oauth_providers", ids.provider))) {
    ids.provider = (
      await asRoot(api.OAuthProviderService).createOAuthProvider({
        providerType: api.ProviderType.OIDC,
        slug: `corp${++mailbox}`,
        issuerUrl: "https://idp.example.com",
        clientId: "escalation",
        clientSecret: "escalation-secret-0123456789",
      })
    ).provider!.id;
  }
  const [key] = await t.db.sql<{ public_id: string }[]>`select public_id from altalune_project_api_keys where public_id = ${ids.apiKey}`;
  if (key === undefined) {
    const expiration = { seconds: BigInt(Math.floor(Date.now() / 1000) + 7 * 86400), nanos: 0 };
    const created = await asRoot(api.ApiKeyService).createApiKey({ projectId: t.defaultProjectId, name: `target ${++mailbox}`, expiration });
    ids.apiKey = created.apiKey!.id;
  }
  // A deactivated key: reactivating it would grant its permissions.
  await asRoot(api.ApiKeyService).deactivateApiKey({ projectId: t.defaultProjectId, apiKeyId: ids.apiKey }).catch(() => undefined);
  if (!(await exists("altalune_oauth_clients", ids.thirdPartyClient))) {
    ids.thirdPartyClient = (
      await asRoot(api.OAuthClientService).createOAuthClient({
        name: `Third party ${++mailbox}`,
        redirectUris: ["https://app.example.com/cb"],
        pkceRequired: true,
      })
    ).client!.id;
  }
}

afterAll(async () => {
  await t?.close();
});

/** An actor holding exactly these permissions (directly), a member of the default project only. */
async function newActor(perms: readonly string[], n: number): Promise<{ id: string; token: string }> {
  const iam = asRoot(api.IAMMapperService);
  const id = (await asRoot(api.UserService).createUser({ email: `actor${n}@corp.test`, firstName: "Act", lastName: `Or${n}` })).user!.id;
  // Exactly the profile: not the default role (an earlier profile may legitimately have delegated to it).
  await iam.removeUserRoles({ userId: id, roleIds: [ids.defaultRole] });
  const permIds = await t.db.sql<{ public_id: string }[]>`
    select public_id from altalune_permissions where system_key = any(${[...perms]}::text[])`;
  expect(permIds.length).toBe(perms.length);
  await iam.assignUserPermissions({ userId: id, permissionIds: permIds.map((p) => p.public_id) });
  const authz = await loadAuthorization(t.db.sql, id);
  expect(authz.perms.sort()).toEqual([...perms].sort());
  return { id, token: await t.token({ sub: id, perms: authz.perms, memberships: authz.memberships }) };
}

describe("escalation", () => {
  it("no narrow admin permission (or plausible pair) leads to more power, on either port", { timeout: 120_000 }, async () => {
    expect(PROFILES.length).toBeGreaterThan(10);
    const problems: string[] = [];
    // Refusals by the handlers' own checks (not by the rule): the escalation check and protected rows.
    const refused: Record<string, number> = {};
    const refusedMethods = new Set<string>();
    let calls = 0;
    let n = 0;
    for (const profile of PROFILES) {
      n++;
      await prepareTargets();
      const actor = await newActor(profile, n);
      const held = new Set(profile);
      const before = await snapshot();
      // Both ports: alternate profiles go through the Connect port and the grpc-js port.
      const port: TransportName = n % 2 === 0 ? "grpc-js" : "connect-binary";
      for (const service of services) {
        const client = t.client(service, port, { token: actor.token }) as unknown as Record<string, AnyCall>;
        for (const method of service.methods.filter(isMutating)) {
          for (const request of attacks(service, method, actor.id)) {
            calls++;
            const err = await client[method.localName]!(request).then(
              () => undefined,
              (e: unknown) => ConnectError.from(e),
            );
            if (err?.code === Code.Internal || err?.code === Code.Unknown) {
              problems.push(`[${profile}] ${service.name}/${method.name}: ${Code[err.code]} ${err.rawMessage}`);
            }
            const code = err === undefined ? undefined : detailOf(err)?.code;
            if (code === "60013" || code === "60707" || code === "60705" || code === "60604") refused[code] = (refused[code] ?? 0) + 1;
            if (code === "60013") refusedMethods.add(method.name);
          }
        }
      }
      const after = await snapshot();
      const tag = `[${profile.join("+")}]`;
      const me = after.users.get(actor.id);
      // An actor may delete itself (it holds what it holds): nothing to compare then.
      if (me !== undefined) {
        if (!subset(me.perms, held)) problems.push(`${tag} actor gained ${[...me.perms].filter((p) => !held.has(p))}`);
        const startProjects = before.users.get(actor.id)!.projects;
        if (!subset(me.projects, startProjects)) problems.push(`${tag} actor joined ${[...me.projects].filter((p) => !startProjects.has(p))}`);
      }
      for (const [id, was] of before.users) {
        if (id === actor.id) continue;
        const now = after.users.get(id);
        const covered = subset(was.perms, held);
        if (now === undefined) {
          if (!covered) problems.push(`${tag} deleted ${id}, who holds more than the actor`);
          continue;
        }
        if (!subset(now.perms, union(was.perms, held))) {
          problems.push(`${tag} ${id} gained ${[...now.perms].filter((p) => !was.perms.has(p) && !held.has(p))}`);
        }
        if (!covered && now.email !== was.email) problems.push(`${tag} changed the email of ${id} (${was.email} → ${now.email})`);
        if (!covered && now.pendingEmail !== was.pendingEmail) problems.push(`${tag} asked to change the email of ${id} to ${now.pendingEmail}`);
        const actorProjects = before.users.get(actor.id)!.projects;
        if (!subset(now.projects, union(was.projects, actorProjects))) {
          problems.push(`${tag} made ${id} a member of ${[...now.projects].filter((p) => !was.projects.has(p) && !actorProjects.has(p))}`);
        }
        if (!covered && now.active !== was.active) problems.push(`${tag} changed the activation of ${id}`);
      }
      for (const [role, was] of before.roles) {
        const now = after.roles.get(role);
        if (now !== undefined && !subset(now, union(was, held))) problems.push(`${tag} role ${role} gained ${[...now].filter((p) => !was.has(p))}`);
      }
      if (after.dashboardRedirects !== before.dashboardRedirects) {
        problems.push(`${tag} re-pointed the dashboard client: ${before.dashboardRedirects} → ${after.dashboardRedirects}`);
      }
      const mayMintKeys = [...API_KEY_PERMISSIONS].every((p) => held.has(p));
      if (!mayMintKeys && after.activeApiKeys > before.activeApiKeys) problems.push(`${tag} made an API key carrying ${[...API_KEY_PERMISSIONS]}`);
      // The seeded superadmin is never within a narrow profile's power.
      const sa = after.users.get(ids.superadmin);
      if (sa === undefined || !sa.perms.has("root")) problems.push(`${tag} the superadmin lost root`);
    }
    console.log(`escalation: ${PROFILES.length} profiles, ${calls} calls; handler refusals by code: ${JSON.stringify(refused)}`);
    expect(problems).toEqual([]);
    // The attempts reached the handlers (not only the rules): each guard refused something.
    for (const code of ["60013", "60707", "60705", "60604"]) expect(refused[code] ?? 0, code).toBeGreaterThan(0);
    // Each escalation guard fired on its own RPC: removing one cannot hide behind the others
    // (CreateUser's guard needs an actor outside the default project: delegation.test.ts).
    const guarded = [
      "AssignUserRoles", "RemoveUserRoles", "AssignUserPermissions", "RemoveUserPermissions",
      "AssignRolePermissions", "RemoveRolePermissions", "UpdateRole", "DeleteRole", "UpdatePermission", "DeletePermission",
      "UpdateUser", "DeleteUser", "ActivateUser", "DeactivateUser",
      "CreateApiKey", "UpdateApiKey", "ActivateApiKey",
    ];
    expect(guarded.filter((m) => !refusedMethods.has(m))).toEqual([]);
  });
});
