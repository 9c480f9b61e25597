import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { IAMMapperService, PermissionService, ProjectService, RoleService, UserService } from "@altalune/proto";
import type { TransactionSql } from "@altalune/db";
import { startTestApi, TRANSPORTS, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { iamRows } from "../../testing/iam-rows.js";

/*
 * What keeps the system administrable: a project keeps an owner (also when a user is deleted),
 * the superadmin role keeps a holder and keeps `root`. Concurrent cases run each race several
 * times; with the checks or their locks missing, some interleaving leaves zero owners/holders.
 */

let api: TestApi;
let admin: string;
let superadminRole: string;
let rootPermission: string;

beforeAll(async () => {
  api = await startTestApi();
  const [row] = await api.db.sql<{ user_id: string; role_id: string; permission_id: string }[]>`
    select u.public_id as user_id, r.public_id as role_id, p.public_id as permission_id
    from altalune_users u, altalune_roles r, altalune_permissions p
    where u.email = ${api.config.superadminEmail} and r.name = 'superadmin' and p.name = 'root'`;
  ({ user_id: admin, role_id: superadminRole, permission_id: rootPermission } = row!);
});
afterAll(async () => {
  await api?.close();
});

const iam = (t: TransportName = "connect-json") => api.client(IAMMapperService, t);
const users = (t: TransportName = "connect-json") => api.client(UserService, t);

let seq = 0;
async function newUser(): Promise<string> {
  const n = `g${++seq}`;
  return (await users("connect-binary").createUser({ email: `${n}@guards.test`, firstName: n, lastName: "Guard" })).user!.id;
}
async function newProject(): Promise<string> {
  return (await api.client(ProjectService, "connect-binary").createProject({ name: `Guarded ${++seq}`, timezone: "UTC", environment: "sandbox" })).project!.id;
}
/** A project whose owners are exactly `owners` (the superadmin, owner of every new project, leaves). */
async function projectOwnedBy(...owners: string[]): Promise<string> {
  const project = await newProject();
  await iam().assignProjectMembers({ projectId: project, members: owners.map((userId) => ({ userId, role: "owner" })) });
  if (!owners.includes(admin)) await iam().removeProjectMembers({ projectId: project, userIds: [admin] });
  return project;
}

async function owners(projectId: string): Promise<string[]> {
  const rows = await api.db.sql<{ public_id: string }[]>`
    select u.public_id from altalune_project_members m
    join altalune_users u on u.id = m.user_id join altalune_projects p on p.id = m.project_id
    where p.public_id = ${projectId} and m.role = 'owner' order by u.public_id`;
  return rows.map((r) => r.public_id);
}
async function superadmins(): Promise<string[]> {
  const rows = await api.db.sql<{ public_id: string }[]>`
    select u.public_id from altalune_users_roles ur
    join altalune_users u on u.id = ur.user_id join altalune_roles r on r.id = ur.role_id
    where r.name = 'superadmin' order by u.public_id`;
  return rows.map((r) => r.public_id);
}
async function exists(userId: string): Promise<boolean> {
  return (await api.db.sql`select 1 from altalune_users where public_id = ${userId}`).length === 1;
}

/** Every row a refused call could have touched, as comparable text. */
function state(): Promise<string[]> {
  return iamRows(api.db.sql, ["users", "userRoles", "rolePermissions", "projectMembers"]);
}

async function refusedEverywhere(call: (t: TransportName) => Promise<unknown>, detail: { code: string; meta: Record<string, string> }) {
  const before = await state();
  for (const t of TRANSPORTS) {
    const e = await callError(call(t));
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(detailOf(e)).toEqual(detail);
  }
  expect(await state()).toEqual(before);
}

/** Of two racing calls exactly one succeeded; the other's error detail code is returned. */
async function oneWins(results: PromiseSettledResult<unknown>[]): Promise<string | undefined> {
  expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  return detailOf(await callError(Promise.reject(rejected!.reason)))?.code;
}

async function waitUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Backends of this test's database waiting for a lock. */
async function blockedCount(): Promise<number> {
  const [row] = await api.db.sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`;
  return row?.n ?? 0;
}

/**
 * Forces the interleaving a race test is about. Another transaction takes `gate` (a row lock) and
 * holds it while `calls` start one after another, each once every earlier one still running
 * waits for a lock (on the gate, or on a lock an earlier call holds); then the gate opens.
 * Returns the calls' outcomes in order.
 */
async function interleave(
  gate: (tx: TransactionSql) => Promise<unknown>,
  calls: ReadonlyArray<() => Promise<unknown>>,
): Promise<PromiseSettledResult<unknown>[]> {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let gateTaken!: () => void;
  const taken = new Promise<void>((resolve) => (gateTaken = resolve));
  const holder = api.db.sql.begin(async (tx) => {
    await gate(tx);
    gateTaken();
    await opened;
  });
  const outcomes: Array<Promise<PromiseSettledResult<unknown>>> = [];
  let settled = 0;
  try {
    await taken;
    for (const call of calls) {
      outcomes.push(Promise.allSettled([call()]).then(([r]) => (settled++, r!)));
      await waitUntil(async () => (await blockedCount()) >= outcomes.length - settled, "every running call waits for a lock");
    }
  } finally {
    open();
    await holder;
  }
  return Promise.all(outcomes);
}

describe("DeleteUser keeps every project's last owner", () => {
  it("refuses to delete a project's only owner (60803, the first such project), changing nothing", async () => {
    const [u, v] = [await newUser(), await newUser()];
    const [first, second] = [await projectOwnedBy(u), await projectOwnedBy(u)];
    await refusedEverywhere((t) => users(t).deleteUser({ id: u }), { code: "60803", meta: { project_id: first } });

    await iam().assignProjectMembers({ projectId: first, members: [{ userId: v, role: "owner" }] });
    await refusedEverywhere((t) => users(t).deleteUser({ id: u }), { code: "60803", meta: { project_id: second } });

    await iam().assignProjectMembers({ projectId: second, members: [{ userId: v, role: "owner" }] });
    await users().deleteUser({ id: u });
    expect(await exists(u)).toBe(false);
    expect([await owners(first), await owners(second)]).toEqual([[v], [v]]);
  });

  it("deletes a co-owner, an admin or a member of an owned project", async () => {
    const [u, v, w, x] = [await newUser(), await newUser(), await newUser(), await newUser()];
    const project = await projectOwnedBy(u, v);
    await iam().assignProjectMembers({ projectId: project, members: [{ userId: w, role: "admin" }, { userId: x, role: "member" }] });
    for (const id of [u, w, x]) await users("grpc-js").deleteUser({ id });
    expect(await owners(project)).toEqual([v]);
    expect((await iam().getProjectMembers({ projectId: project })).members.map((m) => m.user!.id)).toEqual([v]);
  });

  it("RemoveProjectMembers of the other owner while DeleteUser waits to delete: the removal is refused", async () => {
    const [u, v] = [await newUser(), await newUser()];
    const project = await projectOwnedBy(u, v);
    // The deletion is held up just before it deletes (a foreign-key style lock on u's row); the
    // removal runs meanwhile. Without the project lock, it would see u still owning, remove v,
    // and the deletion would then take the last owner.
    const results = await interleave((tx) => tx`select 1 from altalune_users where public_id = ${u} for key share`, [
      () => users("connect-binary").deleteUser({ id: u }),
      () => iam("grpc-js").removeProjectMembers({ projectId: project, userIds: [v] }),
    ]);
    expect(results[0]?.status).toBe("fulfilled");
    expect(await oneWins(results)).toBe("60803");
    expect(await owners(project)).toEqual([v]);
  });

  it("DeleteUser racing RemoveProjectMembers of the other owner: one wins, the project keeps an owner", async () => {
    for (let i = 0; i < 8; i++) {
      const [u, v] = [await newUser(), await newUser()];
      const project = await projectOwnedBy(u, v);
      const results = await Promise.allSettled([
        users("connect-binary").deleteUser({ id: u }),
        iam("grpc-js").removeProjectMembers({ projectId: project, userIds: [v] }),
      ]);
      expect(await oneWins(results)).toBe("60803");
      expect(await owners(project)).toHaveLength(1);
    }
  });

  it("two owners deleted concurrently: one deletion wins, the other is refused", async () => {
    for (let i = 0; i < 8; i++) {
      const [u, v] = [await newUser(), await newUser()];
      const project = await projectOwnedBy(u, v);
      const results = await Promise.allSettled([users("connect-json").deleteUser({ id: u }), users("grpc-js").deleteUser({ id: v })]);
      expect(await oneWins(results)).toBe("60803");
      expect(await owners(project)).toHaveLength(1);
    }
  });

  it("an ownership committed while the deletion waits for the user's row is checked too", async () => {
    const u = await newUser();
    const project = await newProject();
    // Another transaction makes u the project's only owner and keeps the foreign-key lock on u's
    // row that its insert took until the deletion, having locked u's (then no) owned projects,
    // waits for that row.
    const [outcome] = await interleave(
      async (tx) => {
        await tx`
          insert into altalune_project_members (project_id, user_id, role)
          select p.id, u.id, 'owner' from altalune_projects p, altalune_users u
          where p.public_id = ${project} and u.public_id = ${u}`;
        await tx`
          delete from altalune_project_members m using altalune_projects p, altalune_users u
          where p.id = m.project_id and u.id = m.user_id and p.public_id = ${project} and u.public_id = ${admin}`;
      },
      [() => users().deleteUser({ id: u })],
    );
    expect(outcome?.status).toBe("rejected");
    const e = await callError(Promise.reject((outcome as PromiseRejectedResult).reason));
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(detailOf(e)).toEqual({ code: "60803", meta: { project_id: project } });
    expect(await owners(project)).toEqual([u]);
  });
});

describe("the superadmin role keeps a holder", () => {
  it("RemoveUserRoles and DeleteUser refuse to take it from its last holder (60605), changing nothing", async () => {
    expect(await superadmins()).toEqual([admin]);
    const other = (await api.client(RoleService, "connect-json").createRole({ name: "Auditors" })).role!.id;
    await iam().assignUserRoles({ userId: admin, roleIds: [other] });
    const detail = { code: "60605", meta: { user_id: admin, role_name: "superadmin" } };
    await refusedEverywhere((t) => iam(t).removeUserRoles({ userId: admin, roleIds: [superadminRole] }), detail);
    await refusedEverywhere((t) => iam(t).removeUserRoles({ userId: admin, roleIds: [other, superadminRole] }), detail);
    // Checked before ownership: the admin also owns the default project alone.
    await refusedEverywhere((t) => users(t).deleteUser({ id: admin }), detail);
    // Other roles of the last holder come and go freely.
    await iam().removeUserRoles({ userId: admin, roleIds: [other] });
  });

  it("with a second holder, either may lose the role or be deleted; the remaining one may not", async () => {
    const second = await newUser();
    await iam().assignUserRoles({ userId: second, roleIds: [superadminRole] });
    await iam("grpc-js").removeUserRoles({ userId: admin, roleIds: [superadminRole] });
    expect(await superadmins()).toEqual([second]);
    const e = await callError(iam().removeUserRoles({ userId: second, roleIds: [superadminRole] }));
    expect(detailOf(e)).toEqual({ code: "60605", meta: { user_id: second, role_name: "superadmin" } });

    await iam().assignUserRoles({ userId: admin, roleIds: [superadminRole] });
    await users("grpc-js").deleteUser({ id: second });
    expect(await superadmins()).toEqual([admin]);
  });

  it("a user who never held the role can lose other roles and be deleted as before", async () => {
    const u = await newUser();
    const [userRole] = (await iam().getUserRoles({ userId: u })).roles;
    await iam().removeUserRoles({ userId: u, roleIds: [userRole!.id, superadminRole] });
    await users().deleteUser({ id: u });
    expect(await superadmins()).toEqual([admin]);
  });

  // Both calls are held up at their delete (rows of the superadmin role's holders locked FOR
  // SHARE elsewhere): without the role's row lock, each would have seen the other still holding.
  it.each([
    { second: "loses the role", call: (second: string) => iam("grpc-js").removeUserRoles({ userId: second, roleIds: [superadminRole] }) },
    { second: "is deleted", call: (second: string) => users("grpc-js").deleteUser({ id: second }) },
  ])("the first holder loses the role while the second $second: the first wins, the second is refused", async ({ call }) => {
    const second = await newUser();
    await iam().assignUserRoles({ userId: second, roleIds: [superadminRole] });
    const results = await interleave(
      (tx) => tx`
        select 1 from altalune_users_roles ur join altalune_roles r on r.id = ur.role_id
        where r.name = 'superadmin' for share of ur`,
      [() => iam("connect-binary").removeUserRoles({ userId: admin, roleIds: [superadminRole] }), () => call(second)],
    );
    expect(results[0]?.status).toBe("fulfilled");
    expect(await oneWins(results)).toBe("60605");
    expect(await superadmins()).toEqual([second]);
    await iam().assignUserRoles({ userId: admin, roleIds: [superadminRole] });
    await users().deleteUser({ id: second });
    expect(await superadmins()).toEqual([admin]);
  });

  it("two holders losing the role concurrently, by RemoveUserRoles or DeleteUser: one wins, one holder remains", async () => {
    for (let i = 0; i < 6; i++) {
      const second = await newUser();
      await iam().assignUserRoles({ userId: second, roleIds: [superadminRole] });
      const results = await Promise.allSettled(
        i % 2 === 0
          ? [
              iam("connect-binary").removeUserRoles({ userId: admin, roleIds: [superadminRole] }),
              iam("grpc-js").removeUserRoles({ userId: second, roleIds: [superadminRole] }),
            ]
          : [
              iam("connect-binary").removeUserRoles({ userId: admin, roleIds: [superadminRole] }),
              users("grpc-js").deleteUser({ id: second }),
            ],
      );
      expect(await oneWins(results)).toBe("60605");
      expect(await superadmins()).toHaveLength(1);
      // Back to the admin alone for the next round.
      await iam().assignUserRoles({ userId: admin, roleIds: [superadminRole] });
      if (await exists(second)) await iam().removeUserRoles({ userId: second, roleIds: [superadminRole] });
      expect(await superadmins()).toEqual([admin]);
    }
  });
});

describe("the superadmin role keeps root", () => {
  it("RemoveRolePermissions refuses to take root from superadmin (60706), alone or with others", async () => {
    const extra = (await api.client(PermissionService, "connect-json").createPermission({ name: "ops:read" })).permission!.id;
    await iam().assignRolePermissions({ roleId: superadminRole, permissionIds: [extra] });
    const detail = { code: "60706", meta: { role_name: "superadmin", permission_name: "root" } };
    await refusedEverywhere((t) => iam(t).removeRolePermissions({ roleId: superadminRole, permissionIds: [rootPermission] }), detail);
    await refusedEverywhere((t) => iam(t).removeRolePermissions({ roleId: superadminRole, permissionIds: [extra, rootPermission] }), detail);

    // Everything else about the two stays as it was.
    await iam().removeRolePermissions({ roleId: superadminRole, permissionIds: [extra] });
    const other = (await api.client(RoleService, "connect-json").createRole({ name: "Rooted" })).role!.id;
    await iam().assignRolePermissions({ roleId: other, permissionIds: [rootPermission] });
    await iam().removeRolePermissions({ roleId: other, permissionIds: [rootPermission] });
    expect((await iam().getRolePermissions({ roleId: superadminRole })).permissions.map((p) => p.name)).toEqual(["root"]);
  });
});
