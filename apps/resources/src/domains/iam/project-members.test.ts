import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { IAMMapperService, ProjectService, RoleService, UserService } from "@altalune/proto";
import { startTestApi, TRANSPORTS, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";

let api: TestApi;
let superadmin: string;

beforeAll(async () => {
  api = await startTestApi();
  const [row] = await api.db.sql<{ public_id: string }[]>`
    select public_id from altalune_users where email = ${api.config.superadminEmail}`;
  superadmin = row!.public_id;
});
afterAll(async () => {
  await api?.close();
});

const iam = (t: TransportName = "connect-json") => api.client(IAMMapperService, t);
const UNKNOWN = "zzzzzzzzzzzzzz";

let seq = 0;
async function newUser(): Promise<string> {
  const n = `m${++seq}`;
  return (await api.client(UserService, "connect-binary").createUser({ email: `${n}@members.test`, firstName: n, lastName: "Member" })).user!.id;
}
async function newProject(): Promise<string> {
  return (await api.client(ProjectService, "connect-binary").createProject({ name: `Members ${++seq}`, timezone: "UTC", environment: "sandbox" })).project!.id;
}

async function members(projectId: string): Promise<Array<[string, string]>> {
  const res = await iam().getProjectMembers({ projectId });
  return res.members.map((m) => [m.user!.id, m.role]);
}

async function membershipRows(projectId: string) {
  return api.db.sql`
    select u.public_id, m.role, m.updated_at from altalune_project_members m
    join altalune_users u on u.id = m.user_id join altalune_projects p on p.id = m.project_id
    where p.public_id = ${projectId} order by u.public_id`;
}

describe.each(TRANSPORTS)("project membership over %s", (transport) => {
  it("adds members, changes a role by assigning again, lists both ways, removes", async () => {
    const c = iam(transport);
    const project = await newProject();
    const [a, b] = [await newUser(), await newUser()];
    expect(await members(project)).toEqual([[superadmin, "owner"]]);

    await c.assignProjectMembers({ projectId: project, members: [{ userId: a, role: "admin" }, { userId: b, role: "member" }] });
    const listed = await c.getProjectMembers({ projectId: project });
    // Newest first; a and b joined in one statement, so the later user comes first.
    expect(listed.members.map((m) => [m.user!.id, m.role])).toEqual([[b, "member"], [a, "admin"], [superadmin, "owner"]]);
    expect(listed.members[0]!.user).toMatchObject({ email: expect.stringMatching(/@members\.test$/), isActive: true });
    expect(listed.members[0]!.createdAt!.seconds).toBeGreaterThanOrEqual(listed.members[2]!.createdAt!.seconds);

    await c.assignProjectMembers({ projectId: project, members: [{ userId: a, role: "user" }] });
    const projects = await c.getUserProjects({ userId: a });
    expect(projects.projects.map((p) => [p.projectId, p.role])).toEqual([[project, "user"], [expect.any(String), "member"]]);
    expect(projects.projects[0]!.projectName).toMatch(/^Members \d+$/);
    expect(projects.projects[0]!.joinedAt).toBeDefined();

    // Assigning the same role again changes nothing, not even updated_at.
    const before = await membershipRows(project);
    await c.assignProjectMembers({ projectId: project, members: [{ userId: a, role: "user" }, { userId: b, role: "member" }] });
    expect(await membershipRows(project)).toEqual(before);

    await c.removeProjectMembers({ projectId: project, userIds: [b] });
    await c.removeProjectMembers({ projectId: project, userIds: [b] });
    expect(await members(project)).toEqual([[a, "user"], [superadmin, "owner"]]);
  });
});

describe("project roles are exactly owner, admin, member, user", () => {
  let project: string;
  let user: string;
  beforeAll(async () => {
    project = await newProject();
    user = await newUser();
  });

  it.each(["owner", "admin", "member", "user"])("%s is accepted", async (role) => {
    await iam("grpc-js").assignProjectMembers({ projectId: project, members: [{ userId: user, role }] });
    expect(await members(project)).toContainEqual([user, role]);
  });

  it.each(["Owner", "viewer", "superadmin", " member", ""])("%j is refused with InvalidArgument on every transport", async (role) => {
    const before = await membershipRows(project);
    for (const t of TRANSPORTS) {
      const e = await callError(iam(t).assignProjectMembers({ projectId: project, members: [{ userId: superadmin, role: "owner" }, { userId: user, role }] }));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(detailOf(e)).toEqual({ code: "60001", meta: { "members[1].role": role === "" ? "required" : "string.in" } });
    }
    expect(await membershipRows(project)).toEqual(before);
  });
});

describe("the last owner", () => {
  const refused = async (call: Promise<unknown>, project: string) => {
    const e = await callError(call);
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(detailOf(e)).toEqual({ code: "60803", meta: { project_id: project } });
  };

  it("cannot be removed or demoted, alone or together with others; another owner makes it possible", async () => {
    const project = await newProject();
    const [a, b] = [await newUser(), await newUser()];
    await iam().assignProjectMembers({ projectId: project, members: [{ userId: b, role: "member" }] });
    const before = await membershipRows(project);
    for (const t of TRANSPORTS) {
      await refused(iam(t).removeProjectMembers({ projectId: project, userIds: [superadmin] }), project);
      await refused(iam(t).removeProjectMembers({ projectId: project, userIds: [b, superadmin] }), project);
      await refused(iam(t).assignProjectMembers({ projectId: project, members: [{ userId: superadmin, role: "admin" }] }), project);
      await refused(
        iam(t).assignProjectMembers({ projectId: project, members: [{ userId: a, role: "admin" }, { userId: superadmin, role: "member" }] }),
        project,
      );
    }
    expect(await membershipRows(project)).toEqual(before);

    // Handing over in one call keeps an owner at every commit.
    await iam().assignProjectMembers({ projectId: project, members: [{ userId: a, role: "owner" }, { userId: superadmin, role: "member" }] });
    await refused(iam().removeProjectMembers({ projectId: project, userIds: [a] }), project);
    await iam().removeProjectMembers({ projectId: project, userIds: [superadmin] });
    expect(await members(project)).toEqual([[a, "owner"], [b, "member"]]);
  });

  it("two owners removed concurrently: one removal wins, the other is refused, one owner remains", async () => {
    const project = await newProject();
    const a = await newUser();
    await iam().assignProjectMembers({ projectId: project, members: [{ userId: a, role: "owner" }] });
    const results = await Promise.allSettled([
      iam("connect-binary").removeProjectMembers({ projectId: project, userIds: [a] }),
      iam("grpc-js").removeProjectMembers({ projectId: project, userIds: [superadmin] }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const loser = await callError(Promise.reject((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason));
    expect(detailOf(loser)?.code).toBe("60803");
    expect((await members(project)).filter(([, role]) => role === "owner")).toHaveLength(1);
  });

  it("a project that never had an owner can still lose members", async () => {
    const project = await newProject();
    await api.db.sql`delete from altalune_project_members m using altalune_projects p where p.id = m.project_id and p.public_id = ${project}`;
    const a = await newUser();
    await iam().assignProjectMembers({ projectId: project, members: [{ userId: a, role: "admin" }] });
    await iam().removeProjectMembers({ projectId: project, userIds: [a] });
    expect(await members(project)).toEqual([]);
  });
});

describe("creating a project makes every superadmin its owner", () => {
  it("adds all holders of the superadmin role as owners, in the creating transaction", async () => {
    const second = await newUser();
    const [role] = (await api.client(RoleService, "connect-json").queryRoles({ query: { pagination: { page: 1, pageSize: 1 }, filters: { name: { values: ["superadmin"] } } } })).data;
    await iam().assignUserRoles({ userId: second, roleIds: [role!.id] });
    try {
      const project = await newProject();
      const owners = (await members(project)).filter(([, r]) => r === "owner").map(([id]) => id).sort();
      expect(owners).toEqual([superadmin, second].sort());
      expect(await members(project)).toHaveLength(2);
    } finally {
      await iam().removeUserRoles({ userId: second, roleIds: [role!.id] });
    }
  });

  it("a refused project creation leaves no membership behind", async () => {
    const projects = api.client(ProjectService, "connect-json");
    await projects.createProject({ name: "Taken", timezone: "UTC", environment: "live" });
    const [before] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from altalune_project_members`;
    const e = await callError(projects.createProject({ name: "TAKEN", timezone: "UTC", environment: "live" }));
    expect(e.code).toBe(Code.AlreadyExists);
    const [after] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from altalune_project_members`;
    expect(after).toEqual(before);
  });
});

describe("refusals", () => {
  let project: string;
  let user: string;
  beforeAll(async () => {
    project = await newProject();
    user = await newUser();
  });

  type Client = ReturnType<typeof iam>;
  const cases: Array<{ name: string; call: (c: Client) => Promise<unknown>; code: Code; detail: () => { code: string; meta: Record<string, string> } }> = [
    { name: "assign in an unknown project", call: (c) => c.assignProjectMembers({ projectId: UNKNOWN, members: [{ userId: user, role: "member" }] }), code: Code.NotFound, detail: () => ({ code: "60301", meta: { project_id: UNKNOWN } }) },
    { name: "assign an unknown user", call: (c) => c.assignProjectMembers({ projectId: project, members: [{ userId: user, role: "member" }, { userId: UNKNOWN, role: "member" }] }), code: Code.NotFound, detail: () => ({ code: "60500", meta: { user_id: UNKNOWN } }) },
    { name: "remove an unknown user", call: (c) => c.removeProjectMembers({ projectId: project, userIds: [UNKNOWN] }), code: Code.NotFound, detail: () => ({ code: "60500", meta: { user_id: UNKNOWN } }) },
    { name: "remove from an unknown project", call: (c) => c.removeProjectMembers({ projectId: UNKNOWN, userIds: [user] }), code: Code.NotFound, detail: () => ({ code: "60301", meta: { project_id: UNKNOWN } }) },
    { name: "members of an unknown project", call: (c) => c.getProjectMembers({ projectId: UNKNOWN }), code: Code.NotFound, detail: () => ({ code: "60301", meta: { project_id: UNKNOWN } }) },
    { name: "projects of an unknown user", call: (c) => c.getUserProjects({ userId: UNKNOWN }), code: Code.NotFound, detail: () => ({ code: "60500", meta: { user_id: UNKNOWN } }) },
    { name: "a user twice in one call", call: (c) => c.assignProjectMembers({ projectId: project, members: [{ userId: user, role: "admin" }, { userId: user, role: "member" }] }), code: Code.InvalidArgument, detail: () => ({ code: "60001", meta: { members: "members.unique_user_id" } }) },
    { name: "no members", call: (c) => c.assignProjectMembers({ projectId: project, members: [] }), code: Code.InvalidArgument, detail: () => ({ code: "60001", meta: { members: "repeated.min_items" } }) },
    { name: "a project id of the wrong length", call: (c) => c.getProjectMembers({ projectId: "p" }), code: Code.InvalidArgument, detail: () => ({ code: "60001", meta: { project_id: "string.len" } }) },
  ];

  it.each(cases)("$name", async ({ call, code, detail }) => {
    const before = await membershipRows(project);
    const errors = await Promise.all(TRANSPORTS.map((t) => callError(call(iam(t)))));
    for (const e of errors) {
      expect(e.code).toBe(code);
      expect(detailOf(e)).toEqual(detail());
    }
    expect(await membershipRows(project)).toEqual(before);
  });
});

describe("concurrency", () => {
  it("the same membership assigned concurrently from every transport: one row, no error", async () => {
    const project = await newProject();
    const user = await newUser();
    const results = await Promise.allSettled(
      TRANSPORTS.map((t) => iam(t).assignProjectMembers({ projectId: project, members: [{ userId: user, role: "admin" }] })),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(await members(project)).toEqual([[user, "admin"], [superadmin, "owner"]]);
  });
});
