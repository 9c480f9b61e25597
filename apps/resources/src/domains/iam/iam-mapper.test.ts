import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { IAMMapperService, PermissionService, ProjectService, RoleService, UserService } from "@altalune/proto";
import { newPublicId } from "@altalune/core";
import { startTestApi, TRANSPORTS, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { iamRows } from "../../testing/iam-rows.js";

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

const iam = (t: TransportName = "connect-json") => api.client(IAMMapperService, t);
const UNKNOWN = "zzzzzzzzzzzzzz";

let seq = 0;
const unique = (prefix: string) => `${prefix}${++seq}`;

async function newUser(): Promise<string> {
  const n = unique("u");
  return (await api.client(UserService, "connect-binary").createUser({ email: `${n}@iam.test`, firstName: n, lastName: "Test" })).user!.id;
}
async function newRole(name = unique("Role ")): Promise<string> {
  return (await api.client(RoleService, "connect-binary").createRole({ name })).role!.id;
}
async function newPermission(name = unique("perm:x")): Promise<string> {
  return (await api.client(PermissionService, "connect-binary").createPermission({ name })).permission!.id;
}

const roleNames = async (userId: string) => (await iam().getUserRoles({ userId })).roles.map((r) => r.name);
const rolePermissionNames = async (roleId: string) => (await iam().getRolePermissions({ roleId })).permissions.map((p) => p.name);
const effective = async (userId: string) => (await iam().getUserPermissions({ userId })).permissions.map((p) => p.name);

/** Every mapping and membership row, as comparable text. */
function mappingRows(): Promise<string[]> {
  return iamRows(api.db.sql, ["userRoles", "rolePermissions", "userPermissions", "projectMembers", "identities"]);
}

async function entityIds(): Promise<string[]> {
  const rows = await api.db.sql<{ id: string }[]>`
    select public_id as id from altalune_users union all select public_id from altalune_roles
    union all select public_id from altalune_permissions union all select public_id from altalune_projects`;
  return rows.map((r) => r.id).sort();
}

describe.each(TRANSPORTS)("IAMMapperService mappings over %s", (transport) => {
  it("assigns and removes user↔role, role↔permission and user↔permission; effective permissions follow", async () => {
    const c = iam(transport);
    const user = await newUser();
    const [ops, audit] = [await newRole(unique("Ops ")), await newRole(unique("audit "))];
    const [read, write, report] = [await newPermission(unique("ops:read")), await newPermission(unique("ops:write")), await newPermission(unique("report:read"))];
    const name = async (id: string) => (await api.client(PermissionService, transport).getPermission({ id })).permission!.name;
    const [readName, writeName, reportName] = [await name(read), await name(write), await name(report)];

    await c.assignUserRoles({ userId: user, roleIds: [ops, audit, ops] });
    const names = await roleNames(user);
    expect(names).toHaveLength(3);
    expect(names).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));

    await c.assignRolePermissions({ roleId: ops, permissionIds: [write, read] });
    expect(await rolePermissionNames(ops)).toEqual([readName, writeName]);
    await c.assignUserPermissions({ userId: user, permissionIds: [report, write] });
    expect(await effective(user)).toEqual(["dashboard:read", readName, writeName, reportName].sort());

    // Idempotent: assigning again changes nothing.
    const before = await mappingRows();
    await c.assignUserRoles({ userId: user, roleIds: [ops] });
    await c.assignRolePermissions({ roleId: ops, permissionIds: [read, write] });
    await c.assignUserPermissions({ userId: user, permissionIds: [report] });
    expect(await mappingRows()).toEqual(before);

    await c.removeUserRoles({ userId: user, roleIds: [ops] });
    expect(await effective(user)).toEqual(["dashboard:read", writeName, reportName].sort());
    await c.removeUserPermissions({ userId: user, permissionIds: [write, report] });
    await c.removeRolePermissions({ roleId: ops, permissionIds: [read] });
    expect(await rolePermissionNames(ops)).toEqual([writeName]);
    expect(await effective(user)).toEqual(["dashboard:read"]);

    // Removing what is not there is no error.
    await c.removeUserRoles({ userId: user, roleIds: [ops] });
    await c.removeRolePermissions({ roleId: audit, permissionIds: [read] });
    await c.removeUserPermissions({ userId: user, permissionIds: [report] });
    expect((await roleNames(user)).length).toBe(2);
  });
});

describe("unknown ids are that entity's NotFound, and nothing changes", () => {
  let user: string;
  let role: string;
  let permission: string;
  beforeAll(async () => {
    user = await newUser();
    role = await newRole();
    permission = await newPermission();
  });

  type Client = ReturnType<typeof iam>;
  const cases: Array<{ name: string; call: (c: Client) => Promise<unknown>; detail: () => { code: string; meta: Record<string, string> } }> = [
    { name: "assign roles to an unknown user", call: (c) => c.assignUserRoles({ userId: UNKNOWN, roleIds: [role] }), detail: () => ({ code: "60500", meta: { user_id: UNKNOWN } }) },
    { name: "assign a known and an unknown role", call: (c) => c.assignUserRoles({ userId: user, roleIds: [role, UNKNOWN] }), detail: () => ({ code: "60600", meta: { role_id: UNKNOWN } }) },
    { name: "remove an unknown role", call: (c) => c.removeUserRoles({ userId: user, roleIds: [UNKNOWN] }), detail: () => ({ code: "60600", meta: { role_id: UNKNOWN } }) },
    { name: "permissions of an unknown role", call: (c) => c.assignRolePermissions({ roleId: UNKNOWN, permissionIds: [permission] }), detail: () => ({ code: "60600", meta: { role_id: UNKNOWN } }) },
    { name: "an unknown permission to a role", call: (c) => c.assignRolePermissions({ roleId: role, permissionIds: [permission, UNKNOWN] }), detail: () => ({ code: "60700", meta: { permission_id: UNKNOWN } }) },
    { name: "remove an unknown permission from a role", call: (c) => c.removeRolePermissions({ roleId: role, permissionIds: [UNKNOWN] }), detail: () => ({ code: "60700", meta: { permission_id: UNKNOWN } }) },
    { name: "an unknown permission to a user", call: (c) => c.assignUserPermissions({ userId: user, permissionIds: [UNKNOWN] }), detail: () => ({ code: "60700", meta: { permission_id: UNKNOWN } }) },
    { name: "a permission to an unknown user", call: (c) => c.removeUserPermissions({ userId: UNKNOWN, permissionIds: [permission] }), detail: () => ({ code: "60500", meta: { user_id: UNKNOWN } }) },
    { name: "roles of an unknown user", call: (c) => c.getUserRoles({ userId: UNKNOWN }), detail: () => ({ code: "60500", meta: { user_id: UNKNOWN } }) },
    { name: "permissions of an unknown role (get)", call: (c) => c.getRolePermissions({ roleId: UNKNOWN }), detail: () => ({ code: "60600", meta: { role_id: UNKNOWN } }) },
    { name: "effective permissions of an unknown user", call: (c) => c.getUserPermissions({ userId: UNKNOWN }), detail: () => ({ code: "60500", meta: { user_id: UNKNOWN } }) },
  ];

  it.each(cases)("$name", async ({ call, detail }) => {
    const before = await mappingRows();
    const errors = await Promise.all(TRANSPORTS.map((t) => callError(call(iam(t)))));
    for (const e of errors) {
      expect(e.code).toBe(Code.NotFound);
      expect(detailOf(e)).toEqual(detail());
    }
    expect(await mappingRows()).toEqual(before);
  });

  it.each([
    { name: "no ids", req: () => ({ userId: user, roleIds: [] }), meta: { role_ids: "repeated.min_items" } },
    { name: "an id of the wrong length", req: () => ({ userId: user, roleIds: [role, "short"] }), meta: { "role_ids[1]": "string.len" } },
    { name: "too many ids", req: () => ({ userId: user, roleIds: Array.from({ length: 1001 }, () => newPublicId()) }), meta: { role_ids: "repeated.max_items" } },
    { name: "no user id", req: () => ({ userId: "", roleIds: [role] }), meta: { user_id: "required" } },
  ])("validation: $name", async ({ req, meta }) => {
    for (const t of ["connect-json", "grpc-js"] as const) {
      const e = await callError(iam(t).assignUserRoles(req()));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(detailOf(e)).toEqual({ code: "60001", meta });
    }
  });
});

describe("effective permissions", () => {
  it("change immediately when a role gains or loses a permission, or the permission is deleted", async () => {
    const user = await newUser();
    const role = await newRole();
    const permission = await newPermission("ledger:read");
    await iam().assignUserRoles({ userId: user, roleIds: [role] });
    expect(await effective(user)).toEqual(["dashboard:read"]);

    await iam("grpc-js").assignRolePermissions({ roleId: role, permissionIds: [permission] });
    expect(await effective(user)).toEqual(["dashboard:read", "ledger:read"]);
    await iam("grpc-js").removeRolePermissions({ roleId: role, permissionIds: [permission] });
    expect(await effective(user)).toEqual(["dashboard:read"]);

    await iam("grpc-js").assignRolePermissions({ roleId: role, permissionIds: [permission] });
    await api.client(PermissionService, "grpc-js").deletePermission({ id: permission });
    expect(await effective(user)).toEqual(["dashboard:read"]);
  });

  it("lists a permission held both directly and through two roles once", async () => {
    const user = await newUser();
    const [r1, r2] = [await newRole(), await newRole()];
    const shared = await newPermission("shared:read");
    await iam().assignUserRoles({ userId: user, roleIds: [r1, r2] });
    await iam().assignRolePermissions({ roleId: r1, permissionIds: [shared] });
    await iam().assignRolePermissions({ roleId: r2, permissionIds: [shared] });
    await iam().assignUserPermissions({ userId: user, permissionIds: [shared] });
    expect(await effective(user)).toEqual(["dashboard:read", "shared:read"]);
  });
});

describe("deleting a user, role or permission cascades its mappings and memberships, nothing more", () => {
  it("removes exactly the rows that reference the deleted entity", async () => {
    const [u, v] = [await newUser(), await newUser()];
    const [r, keep] = [await newRole(), await newRole()];
    const [p, q] = [await newPermission(), await newPermission()];
    const project = (await api.client(ProjectService, "connect-binary").createProject({ name: unique("Cascade "), timezone: "UTC", environment: "live" })).project!.id;
    for (const user of [u, v]) {
      await iam().assignUserRoles({ userId: user, roleIds: [r, keep] });
      await iam().assignUserPermissions({ userId: user, permissionIds: [p, q] });
    }
    await iam().assignRolePermissions({ roleId: r, permissionIds: [p, q] });
    await iam().assignRolePermissions({ roleId: keep, permissionIds: [p, q] });
    await iam().assignProjectMembers({ projectId: project, members: [{ userId: u, role: "admin" }, { userId: v, role: "member" }] });
    for (const user of [u, v]) {
      await api.db.sql`
        insert into altalune_user_identities (public_id, user_id, provider, provider_user_id)
        select ${newPublicId()}, id, 'github', public_id from altalune_users where public_id = ${user}`;
    }

    const expectOnlyRemoved = async (act: () => Promise<unknown>, gone: string) => {
      const [rowsBefore, idsBefore] = [await mappingRows(), await entityIds()];
      await act();
      expect(await entityIds()).toEqual(idsBefore.filter((id) => id !== gone));
      expect(await mappingRows()).toEqual(rowsBefore.filter((row) => !row.split(" ").includes(gone)));
      expect(rowsBefore.some((row) => row.split(" ").includes(gone))).toBe(true);
    };
    await expectOnlyRemoved(() => api.client(PermissionService, "connect-json").deletePermission({ id: p }), p);
    await expectOnlyRemoved(() => api.client(RoleService, "grpc-js").deleteRole({ id: r }), r);
    await expectOnlyRemoved(() => api.client(UserService, "connect-binary").deleteUser({ id: u }), u);
    await expectOnlyRemoved(() => api.client(ProjectService, "grpc-web").deleteProject({ id: project }), project);
  });
});

describe("concurrency", () => {
  it("the same mapping assigned concurrently from several clients: one row, no error", async () => {
    const user = await newUser();
    const role = await newRole();
    const permission = await newPermission();
    const count = async (table: string) => {
      const [row] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from ${api.db.sql(table)}`;
      return row?.n ?? 0;
    };
    const [ur, rp, up] = [await count("altalune_users_roles"), await count("altalune_roles_permissions"), await count("altalune_users_permissions")];
    const results = await Promise.allSettled(
      TRANSPORTS.flatMap((t) => [
        iam(t).assignUserRoles({ userId: user, roleIds: [role] }),
        iam(t).assignRolePermissions({ roleId: role, permissionIds: [permission] }),
        iam(t).assignUserPermissions({ userId: user, permissionIds: [permission] }),
      ]),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(await count("altalune_users_roles")).toBe(ur + 1);
    expect(await count("altalune_roles_permissions")).toBe(rp + 1);
    expect(await count("altalune_users_permissions")).toBe(up + 1);
  });

  it("overlapping sets assigned concurrently in different orders: no deadlock, the union is stored", async () => {
    const role = await newRole();
    const permissions = await Promise.all(Array.from({ length: 8 }, () => newPermission()));
    const shuffled = (seed: number) => [...permissions].sort((a, b) => ((a.charCodeAt(seed % 14) * 31 + seed) % 17) - ((b.charCodeAt(seed % 14) * 31 + seed) % 17));
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => iam(i % 2 === 0 ? "connect-binary" : "grpc-js").assignRolePermissions({ roleId: role, permissionIds: shuffled(i).reverse() })),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(await rolePermissionNames(role)).toHaveLength(8);
  });
});
