import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ApiKeyService, IAMMapperService, PermissionService, RoleService, UserService } from "@altalune/proto";
import { startTestApi, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";

// No delegation beyond what you hold (issue 11: `iam:write`, `user:write`, `role:write`,
// `apikey:write` each led further than themselves). What the caller holds is its token's perms.

let api: TestApi;
let superadminRole: string;
let iamWritePerm: string;
let dashboardRead: string;

beforeAll(async () => {
  api = await startTestApi();
  const key = async (table: "altalune_roles" | "altalune_permissions", k: string) =>
    (await api.db.sql<{ public_id: string }[]>`select public_id from ${api.db.sql(table)} where system_key = ${k}`)[0]!.public_id;
  superadminRole = await key("altalune_roles", "superadmin");
  iamWritePerm = await key("altalune_permissions", "iam:write");
  dashboardRead = await key("altalune_permissions", "dashboard:read");
});
afterAll(async () => {
  await api?.close();
});

let n = 0;
async function actor(perms: string[], transport: TransportName) {
  const u = (await api.client(UserService, "connect-json").createUser({ email: `d${++n}@delegation.test`, firstName: "D", lastName: "N" })).user!;
  const token = await api.token({ sub: u.id, perms: [...perms, "dashboard:read"], memberships: { [api.defaultProjectId]: "member" } });
  const as = <S extends Parameters<TestApi["client"]>[0]>(s: S) => api.client(s, transport, { token });
  return { id: u.id, as };
}

describe.each(["connect-json", "grpc-js"] as const)("the escalation check over %s", (transport) => {
  it("iam:write cannot assign a role or permission it does not hold, to anyone, itself included", async () => {
    const a = await actor(["iam:write"], transport);
    const iam = a.as(IAMMapperService);
    const e = await callError(iam.assignUserRoles({ userId: a.id, roleIds: [superadminRole] }));
    expect(e.code).toBe(Code.PermissionDenied);
    expect(detailOf(e)).toEqual({ code: "60013", meta: { reason: "escalation", target: "roles", missing: "root" } });
    // iam:write is held: granting it is delegation, and allowed (to a user within the actor's power).
    const peer = await actor([], transport);
    await iam.assignUserPermissions({ userId: peer.id, permissionIds: [iamWritePerm] });
    const got = await api.client(IAMMapperService, "connect-json").getUserPermissions({ userId: peer.id });
    expect(got.permissions.map((x) => x.name).sort()).toEqual(["dashboard:read", "iam:write"]);
  });

  it("iam:write cannot change the roles or permissions of a user who holds more (the superadmin)", async () => {
    const iam = (await actor(["iam:write"], transport)).as(IAMMapperService);
    const e = await callError(iam.removeUserRoles({ userId: api.superadmin.publicId, roleIds: [superadminRole] }));
    expect(e.code).toBe(Code.PermissionDenied);
    expect(detailOf(e)).toEqual({
      code: "60013",
      meta: { reason: "escalation", target: "user", missing: "root", user_id: api.superadmin.publicId },
    });
  });

  it("iam:write cannot add permissions to a role that grants more than it holds, nor grant unheld ones to its own", async () => {
    const a = await actor(["iam:write"], transport);
    const iam = a.as(IAMMapperService);
    const e = await callError(iam.assignRolePermissions({ roleId: superadminRole, permissionIds: [dashboardRead] }));
    expect(detailOf(e)?.meta).toMatchObject({ reason: "escalation", target: "role", role_id: superadminRole });
    const weak = (await api.client(RoleService, "connect-json").createRole({ name: `Weak ${transport}` })).role!;
    const root = (await api.db.sql<{ public_id: string }[]>`select public_id from altalune_permissions where system_key = 'root'`)[0]!;
    const g = await callError(iam.assignRolePermissions({ roleId: weak.id, permissionIds: [root.public_id] }));
    expect(detailOf(g)?.meta).toMatchObject({ reason: "escalation", target: "permissions", missing: "root" });
  });

  it("user:write cannot change, deactivate or delete a user who holds more", async () => {
    const users = (await actor(["user:write", "user:delete"], transport)).as(UserService);
    const id = api.superadmin.publicId;
    for (const call of [
      () => users.updateUser({ id, email: "attacker@evil.test", firstName: "Super", lastName: "Admin" }),
      () => users.deactivateUser({ id }),
      () => users.deleteUser({ id }),
    ]) {
      const e = await callError(call());
      expect(e.code).toBe(Code.PermissionDenied);
      expect(detailOf(e)?.meta).toMatchObject({ reason: "escalation", target: "user", user_id: id, missing: "root" });
    }
    const [sa] = await api.db.sql<{ email: string; is_active: boolean }[]>`select email, is_active from altalune_users where public_id = ${id}`;
    expect(sa).toEqual({ email: api.superadmin.email, is_active: true });
  });

  it("role:write / permission:write cannot rename or delete a role or permission beyond their own", async () => {
    const a = await actor(["role:write", "role:delete", "permission:write", "permission:delete"], transport);
    const powerful = (await api.client(RoleService, "connect-json").createRole({ name: `Strong ${transport}` })).role!;
    await api.client(IAMMapperService, "connect-json").assignRolePermissions({ roleId: powerful.id, permissionIds: [iamWritePerm] });
    const r = await callError(a.as(RoleService).deleteRole({ id: powerful.id }));
    expect(detailOf(r)?.meta).toMatchObject({ reason: "escalation", target: "role", missing: "iam:write" });
    const custom = (await api.client(PermissionService, "connect-json").createPermission({ name: `ext_${transport.replace("-", "_")}:approve` })).permission!;
    const p = await callError(a.as(PermissionService).updatePermission({ id: custom.id, name: `ext_${transport.replace("-", "_")}:other` }));
    expect(detailOf(p)?.meta).toMatchObject({ reason: "escalation", target: "permissions" });
  });

  it("user:write without the default role's permissions or the default project cannot create users", async () => {
    const outsider = await api.token({ sub: (await actor([], transport)).id, perms: ["user:write"], memberships: {} });
    const users = api.client(UserService, transport, { token: outsider });
    const e = await callError(users.createUser({ email: `made-${transport}@delegation.test`, firstName: "M", lastName: "D" }));
    expect(detailOf(e)?.meta).toMatchObject({ reason: "escalation", target: "roles", missing: "dashboard:read" });
    const notMember = await api.token({ sub: (await actor([], transport)).id, perms: ["user:write", "dashboard:read"], memberships: {} });
    const p = await callError(api.client(UserService, transport, { token: notMember }).createUser({ email: `made2-${transport}@delegation.test`, firstName: "M", lastName: "D" }));
    expect(detailOf(p)?.meta).toMatchObject({ reason: "escalation", target: "project", project_id: api.defaultProjectId });
    const member = (await actor(["user:write"], transport)).as(UserService);
    expect((await member.createUser({ email: `made3-${transport}@delegation.test`, firstName: "M", lastName: "D" })).user?.email).toBe(`made3-${transport}@delegation.test`);
  });

  it("apikey:write without the employee permissions cannot mint a key that carries them", async () => {
    const keys = (await actor(["apikey:write"], transport)).as(ApiKeyService);
    const expiration = { seconds: BigInt(Math.floor(Date.now() / 1000) + 86400), nanos: 0 };
    const e = await callError(keys.createApiKey({ projectId: api.defaultProjectId, name: `k ${transport}`, expiration }));
    expect(detailOf(e)?.meta).toMatchObject({ reason: "escalation", missing: "employee:delete,employee:read,employee:write" });
    const ok = (await actor(["apikey:write", "employee:read", "employee:write", "employee:delete"], transport)).as(ApiKeyService);
    expect((await ok.createApiKey({ projectId: api.defaultProjectId, name: `k2 ${transport}`, expiration })).keyValue).toMatch(/^sk-/);
  });

  it("what counts is the token, not the database: a root user's token narrowed to iam:write delegates only that", async () => {
    const token = await api.token({ sub: api.superadmin.publicId, perms: ["iam:write", "dashboard:read"], memberships: {} });
    const peer = await actor([], transport);
    const iam = api.client(IAMMapperService, transport, { token });
    const e = await callError(iam.assignUserRoles({ userId: peer.id, roleIds: [superadminRole] }));
    expect(detailOf(e)?.meta).toMatchObject({ reason: "escalation", missing: "root" });
  });
});
