import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { IAMMapperService, PermissionService, RoleService, UserService } from "@altalune/proto";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { loadAuthorization } from "@altalune/auth/testing";
import { callError, detailOf, seedIam, startTestApi, type TestApi } from "@altalune/resources/testing";

// Issue 11, finding 1: authorization data is keyed on what an administrator cannot rename.
// Before: rules and claims matched permissions by name, so `permission:write` could rename a
// permission it held to `iam:write`; the default role was found by the name `user`.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

async function systemRow(table: "altalune_roles" | "altalune_permissions", key: string) {
  const [row] = await api.db.sql<{ public_id: string; name: string }[]>`
    select public_id, name from ${api.db.sql(table)} where system_key = ${key}`;
  if (row === undefined) throw new Error(`no ${key}`);
  return row;
}

describe("system permissions", () => {
  it("can be neither renamed nor deleted (60707); root keeps 60705; descriptions may change", async () => {
    const perms = api.client(PermissionService, "connect-json");
    const iamWrite = await systemRow("altalune_permissions", "iam:write");
    const renamed = await callError(perms.updatePermission({ id: iamWrite.public_id, name: "iam_write_old" }));
    expect(renamed.code).toBe(Code.FailedPrecondition);
    expect(detailOf(renamed)).toEqual({ code: "60707", meta: { permission_name: "iam:write", system_key: "iam:write" } });
    const caseOnly = await callError(perms.updatePermission({ id: iamWrite.public_id, name: "IAM:WRITE" }));
    expect(detailOf(caseOnly)?.code).toBe("60707");
    const deleted = await callError(perms.deletePermission({ id: iamWrite.public_id }));
    expect(detailOf(deleted)?.code).toBe("60707");
    const root = await systemRow("altalune_permissions", "root");
    expect(detailOf(await callError(perms.deletePermission({ id: root.public_id })))?.code).toBe("60705");
    const described = await perms.updatePermission({ id: iamWrite.public_id, name: "iam:write", description: "who holds what" });
    expect(described.permission).toMatchObject({ name: "iam:write", description: "who holds what" });
  });

  it("a held permission cannot be renamed onto a system name, so no rule changes meaning", async () => {
    const perms = api.client(PermissionService, "grpc-js");
    const custom = (await perms.createPermission({ name: "reports:read" })).permission!;
    const clash = await callError(perms.updatePermission({ id: custom.id, name: "iam:write" }));
    expect(clash.code).toBe(Code.AlreadyExists);
    const dashboard = await systemRow("altalune_permissions", "dashboard:read");
    expect(detailOf(await callError(perms.updatePermission({ id: dashboard.public_id, name: "root2" })))?.code).toBe("60707");
  });

  it("a token's perms carry system keys; a renamed custom permission never reads as a system one", async () => {
    const users = api.client(UserService, "connect-json");
    const iam = api.client(IAMMapperService, "connect-json");
    const perms = api.client(PermissionService, "connect-json");
    const u = (await users.createUser({ email: "claims@keys.test", firstName: "C", lastName: "K" })).user!;
    const custom = (await perms.createPermission({ name: "billing:approve" })).permission!;
    await iam.assignUserPermissions({ userId: u.id, permissionIds: [custom.id] });
    await perms.updatePermission({ id: custom.id, name: "billing:sign" });
    const authz = await loadAuthorization(api.db.sql, u.id);
    expect(authz.perms.sort()).toEqual(["billing:sign", "dashboard:read"]);
  });
});

describe("built-in roles are found by key", () => {
  it("a custom role renamed to 'user' is not what new users get; the renamed default role still is", async () => {
    const roles = api.client(RoleService, "connect-json");
    const iam = api.client(IAMMapperService, "connect-json");
    const users = api.client(UserService, "connect-json");
    const defaultRole = await systemRow("altalune_roles", "user");
    await roles.updateRole({ id: defaultRole.public_id, name: "Members", description: "" });
    const powerful = (await roles.createRole({ name: "Powerful" })).role!;
    const iamWrite = await systemRow("altalune_permissions", "iam:write");
    await iam.assignRolePermissions({ roleId: powerful.id, permissionIds: [iamWrite.public_id] });
    await roles.updateRole({ id: powerful.id, name: "user", description: "" });

    const u = (await users.createUser({ email: "newcomer@keys.test", firstName: "N", lastName: "C" })).user!;
    const got = await iam.getUserRoles({ userId: u.id });
    expect(got.roles.map((r) => r.id)).toEqual([defaultRole.public_id]);
    expect((await loadAuthorization(api.db.sql, u.id)).perms).toEqual(["dashboard:read"]);
    // Back to the seeded names for the other tests of this file.
    await roles.updateRole({ id: powerful.id, name: "Powerful", description: "" });
    await roles.updateRole({ id: defaultRole.public_id, name: "user", description: "" });
  });

  it("the superadmin role can be neither renamed nor deleted; the default role can (found by key, recreated by the seed)", async () => {
    const roles = api.client(RoleService, "connect-binary");
    const sa = await systemRow("altalune_roles", "superadmin");
    expect(detailOf(await callError(roles.updateRole({ id: sa.public_id, name: "admins" })))?.code).toBe("60604");
    expect(detailOf(await callError(roles.deleteRole({ id: sa.public_id })))?.code).toBe("60604");
  });
});

describe("the seed never adopts a custom row carrying a system name", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("renames a colliding custom row aside, reports it, and creates the system row", async () => {
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (_o: object, msg: string) => void warnings.push(msg) };
    await seedIam(db.sql, "admin@keys.test", logger);
    // An operator's custom permission that a later version makes a system one: simulate by
    // taking the key away from a seeded row (as if it had never been a system permission).
    await db.sql`delete from altalune_permissions where system_key = 'member:delete'`;
    await db.sql`insert into altalune_permissions (public_id, name, description) values ('customrow000001', 'Member:Delete', 'mine')`;
    // …and a custom role named like a missing built-in role, holding iam:write.
    await db.sql`delete from altalune_roles where system_key = 'user'`;
    await db.sql`insert into altalune_roles (public_id, name) values ('customrole00001', 'User')`;
    await db.sql`
      insert into altalune_roles_permissions (role_id, permission_id)
      select r.id, p.id from altalune_roles r, altalune_permissions p
      where r.public_id = 'customrole00001' and p.system_key = 'iam:write'`;

    await seedIam(db.sql, "admin@keys.test", logger);

    const [perm] = await db.sql<{ name: string; system_key: string | null }[]>`
      select name, system_key from altalune_permissions where public_id = 'customrow000001'`;
    expect(perm).toEqual({ name: "Member:Delete_custom", system_key: null });
    const [role] = await db.sql<{ name: string; system_key: string | null }[]>`
      select name, system_key from altalune_roles where public_id = 'customrole00001'`;
    expect(role).toEqual({ name: "User_custom", system_key: null });
    const [sysRole] = await db.sql<{ name: string; perms: string[] }[]>`
      select r.name, array(select p.system_key from altalune_roles_permissions rp join altalune_permissions p on p.id = rp.permission_id
                           where rp.role_id = r.id) as perms
      from altalune_roles r where r.system_key = 'user'`;
    expect(sysRole).toEqual({ name: "user", perms: ["dashboard:read"] });
    expect(warnings.filter((w) => w.includes("renamed the custom row"))).toHaveLength(2);
  });
});
