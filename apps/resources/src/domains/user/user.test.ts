import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { newPublicId } from "@altalune/core";
import { CreateUserRequestSchema, IAMMapperService, ProjectService, SortOrder, UserService as UserServiceDesc } from "@altalune/proto";
import { runPostMigrate } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { createUser } from "@altalune/test-kit";
import { seed } from "../../seed.js";
import { startTestApi, TRANSPORTS, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { invalid, itRefusesOnEveryTransport, notFound, type Refusal } from "../../testing/refusals.js";
import { noUserEvents, type UserEvents } from "./events.js";
import type { User } from "./model.js";
import { UserRepo } from "./repo.js";
import { UserService } from "./service.js";
import { operatorContext } from "../../testing/operator-context.js";

// These tests are about CreateUser's events and defaults, called as an operator.
const noEscalationCheck = { refuseChangingUser: async () => {}, refuseCreatingUser: async () => {} };

let api: TestApi;
let defaultProjectId: string;

beforeAll(async () => {
  api = await startTestApi();
  const projects = await api.client(ProjectService, "connect-binary").queryProjects({});
  defaultProjectId = projects.data.find((p) => p.isDefault)!.id;
});
afterAll(async () => {
  await api?.close();
});

const users = (transport: TransportName = "connect-json") => api.client(UserServiceDesc, transport);

/** A user as the auth server would register one: possibly inactive, never activated. */
async function insertUser(email: string, opts: { active: boolean }): Promise<string> {
  return (await createUser(api.db.sql, { email, active: opts.active })).publicId;
}

describe.each(TRANSPORTS)("UserService over %s", (transport) => {
  const tag = transport.replace(/[^a-z]/g, "");

  it("creates (role user, member of the default project), reads, updates, lists, deactivates, activates, deletes", async () => {
    const c = users(transport);
    const created = await c.createUser({ email: `  Ada.${tag}@Example.COM `, firstName: " Ada ", lastName: "Lovelace" });
    expect(created.message).toBe("User created successfully");
    const u = created.user!;
    expect(u.id).toMatch(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/);
    expect(u).toMatchObject({ email: `ada.${tag}@example.com`, firstName: "Ada", lastName: "Lovelace", isActive: true, emailVerified: false });
    expect(u.activatedAt).toBeDefined();

    const iam = api.client(IAMMapperService, transport);
    expect((await iam.getUserRoles({ userId: u.id })).roles.map((r) => r.name)).toEqual(["user"]);
    expect((await iam.getUserProjects({ userId: u.id })).projects).toMatchObject([{ projectId: defaultProjectId, role: "member" }]);
    expect((await iam.getUserPermissions({ userId: u.id })).permissions.map((p) => p.name)).toEqual(["dashboard:read"]);

    const got = await c.getUser({ id: u.id });
    expect(got.user).toEqual(u);
    expect(got.identities).toEqual([]);

    const updated = await c.updateUser({ id: u.id, email: u.email, firstName: "Augusta", lastName: "King" });
    expect(updated.message).toBe("User updated successfully");
    expect(updated.user).toMatchObject({ email: u.email, firstName: "Augusta", lastName: "King" });
    expect(updated.user?.pendingEmail).toBeUndefined();

    const listed = await c.queryUsers({ query: { pagination: { page: 1, pageSize: 10 }, keyword: `ada.${tag}` } });
    expect(listed.data.map((x) => x.id)).toEqual([u.id]);

    const off = await c.deactivateUser({ id: u.id });
    expect(off).toMatchObject({ message: "User deactivated successfully", user: { isActive: false } });
    const again = await callError(c.deactivateUser({ id: u.id }));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(detailOf(again)).toEqual({ code: "60504", meta: { user_id: u.id } });

    const on = await c.activateUser({ id: u.id });
    expect(on).toMatchObject({ message: "User activated successfully", user: { isActive: true } });
    const twice = await callError(c.activateUser({ id: u.id }));
    expect(twice.code).toBe(Code.FailedPrecondition);
    expect(detailOf(twice)).toEqual({ code: "60503", meta: { user_id: u.id } });

    expect((await c.deleteUser({ id: u.id })).message).toBe("User deleted successfully");
    const gone = await callError(c.getUser({ id: u.id }));
    expect(gone.code).toBe(Code.NotFound);
    expect(detailOf(gone)).toEqual({ code: "60500", meta: { user_id: u.id } });
  });

  it("refuses a taken email, whatever its case, on create and on update", async () => {
    const c = users(transport);
    await c.createUser({ email: `grace.${tag}@example.com`, firstName: "Grace", lastName: "Hopper" });
    const dup = await callError(c.createUser({ email: `GRACE.${tag}@Example.com`, firstName: "G", lastName: "H" }));
    expect(dup.code).toBe(Code.AlreadyExists);
    expect(detailOf(dup)).toEqual({ code: "60501", meta: { email: `grace.${tag}@example.com` } });

    const other = (await c.createUser({ email: `alan.${tag}@example.com`, firstName: "Alan", lastName: "Turing" })).user!;
    const clash = await callError(c.updateUser({ id: other.id, email: `Grace.${tag}@example.com`, firstName: "A", lastName: "T" }));
    expect(clash.code).toBe(Code.AlreadyExists);
    expect(detailOf(clash)).toEqual({ code: "60501", meta: { email: `grace.${tag}@example.com` } });
    expect((await c.getUser({ id: other.id })).user?.email).toBe(`alan.${tag}@example.com`);
  });
});

describe("GetUser identities", () => {
  it("lists the user's identities, newest first, with origin client and last login", async () => {
    const u = (await users().createUser({ email: "linked@example.com", firstName: "Linked", lastName: "User" })).user!;
    const clientId = "8f14e45f-ceea-4672-9a3c-1b1c1e2f3a4b";
    const lastLogin = new Date("2026-01-02T03:04:05Z");
    await api.db.sql`
      insert into altalune_user_identities
        (public_id, user_id, provider, provider_user_id, email, first_name, last_name, created_at)
      select ${newPublicId()}, id, 'system', 'operator-1', email, 'Linked', 'User', now() - interval '1 day'
      from altalune_users where public_id = ${u.id}`;
    await api.db.sql`
      insert into altalune_user_identities
        (public_id, user_id, provider, provider_user_id, email, oauth_client_id, origin_oauth_client_name, last_login_at)
      select ${newPublicId()}, id, 'github', '4242', 'linked@users.github.com', ${clientId}, 'Dashboard', ${lastLogin}
      from altalune_users where public_id = ${u.id}`;

    for (const transport of ["connect-json", "grpc-js"] as const) {
      const { identities } = await users(transport).getUser({ id: u.id });
      expect(identities.map((i) => i.provider)).toEqual(["github", "system"]);
      const [github, system] = identities;
      expect(github).toMatchObject({
        provider: "github",
        providerUserId: "4242",
        email: "linked@users.github.com",
        oauthClientId: clientId,
        originOauthClientName: "Dashboard",
      });
      expect(timestampDate(github!.lastLoginAt!)).toEqual(lastLogin);
      expect(system).toMatchObject({ provider: "system", providerUserId: "operator-1", firstName: "Linked" });
      expect(system!.oauthClientId).toBeUndefined();
      expect(system!.originOauthClientName).toBeUndefined();
      expect(system!.lastLoginAt).toBeUndefined();
      expect(system!.publicId).toMatch(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/);
    }
  });
});

describe("UpdateUser", () => {
  const outboxOf = async (publicId: string) =>
    api.db.sql<{ old_email: string; new_email: string }[]>`
      select o.old_email, o.new_email from altalune_email_change_outbox o join altalune_users u on u.id = o.user_id
      where u.public_id = ${publicId}`;
  const liveChangeLinks = async (publicId: string) => {
    const [row] = await api.db.sql<{ n: number }[]>`
      select count(*)::int as n from altalune_email_verification_tokens t join altalune_users u on u.id = t.user_id
      where u.public_id = ${publicId} and t.purpose = 'email_change' and t.used_at is null`;
    return row?.n;
  };

  it("a different address is only pending: email and email_verified stay, the change waits in the outbox", async () => {
    const c = users("grpc-js");
    const u = (await c.createUser({ email: "verified@example.com", firstName: "Vera", lastName: "Fied" })).user!;
    await api.db.sql`update altalune_users set email_verified = true where public_id = ${u.id}`;
    const renamed = await c.updateUser({ id: u.id, email: "VERIFIED@example.com ", firstName: "Vera", lastName: "Renamed" });
    expect(renamed.user).toMatchObject({ email: "verified@example.com", lastName: "Renamed", emailVerified: true });
    expect(renamed.message).toBe("User updated successfully");
    expect(await outboxOf(u.id)).toEqual([]);

    const moved = await c.updateUser({ id: u.id, email: " Moved@Example.com", firstName: "Vera", lastName: "Moved" });
    expect(moved.user).toMatchObject({ email: "verified@example.com", pendingEmail: "moved@example.com", lastName: "Moved", emailVerified: true });
    expect(moved.message).toBe(
      "User updated successfully; a confirmation link is being sent to moved@example.com, and the email address changes once it is confirmed",
    );
    expect((await c.getUser({ id: u.id })).user).toMatchObject({ email: "verified@example.com", pendingEmail: "moved@example.com" });
    // Nobody mails in this API (no listener): the request waits for the auth server's poll.
    expect(await outboxOf(u.id)).toEqual([{ old_email: "verified@example.com", new_email: "moved@example.com" }]);
    const [row] = await api.db.sql`select email, pending_email from altalune_users where public_id = ${u.id}`;
    expect(row).toEqual({ email: "verified@example.com", pending_email: "moved@example.com" });
  });

  it("a newer address replaces the pending one and retires its link; the current address cancels", async () => {
    const c = users("connect-json");
    const u = (await c.createUser({ email: "changer@example.com", firstName: "Chan", lastName: "Ger" })).user!;
    await c.updateUser({ id: u.id, email: "first@example.com", firstName: "Chan", lastName: "Ger" });
    // As the auth server's sender would have stored it for the first request.
    await api.db.sql`
      insert into altalune_email_verification_tokens (user_id, email, token_hash, expires_at, purpose)
      select id, 'first@example.com', repeat('a', 64), CURRENT_TIMESTAMP + interval '1 day', 'email_change'
      from altalune_users where public_id = ${u.id}`;
    expect(await liveChangeLinks(u.id)).toBe(1);

    const second = await c.updateUser({ id: u.id, email: "second@example.com", firstName: "Chan", lastName: "Ger" });
    expect(second.user?.pendingEmail).toBe("second@example.com");
    expect(await outboxOf(u.id)).toEqual([{ old_email: "changer@example.com", new_email: "second@example.com" }]);
    expect(await liveChangeLinks(u.id)).toBe(0);

    const cancelled = await c.updateUser({ id: u.id, email: "changer@example.com", firstName: "Chan", lastName: "Ger" });
    expect(cancelled.user?.pendingEmail).toBeUndefined();
    expect(cancelled.message).toBe("User updated successfully; the pending email change was cancelled");
    expect(await outboxOf(u.id)).toEqual([]);
  });

  it("tells the listener after the commit; its failure does not fail the call and the outbox keeps the request", async () => {
    const seen: Array<{ id: string; pending: unknown }> = [];
    const events: UserEvents = {
      async userCreated() {},
      async emailChangeRequested(id) {
        const [row] = await api.db.sql`select pending_email from altalune_users where public_id = ${id}`;
        seen.push({ id, pending: row?.["pending_email"] });
        throw new Error("smtp down");
      },
    };
    const listened = await startTestApi({}, { db: api.db, userEvents: events });
    try {
      const id = await insertUser("listened@example.com", { active: true });
      const res = await listened.client(UserServiceDesc, "connect-json").updateUser({ id, email: "heard@example.com", firstName: "L", lastName: "I" });
      expect(res.user?.pendingEmail).toBe("heard@example.com");
      expect(seen).toEqual([{ id, pending: "heard@example.com" }]);
      expect(await outboxOf(id)).toEqual([{ old_email: "listened@example.com", new_email: "heard@example.com" }]);
    } finally {
      await listened.close();
    }
  });
});

describe("activation", () => {
  it("records activated_at the first time only", async () => {
    const id = await insertUser("pending@example.com", { active: false });
    const c = users("grpc-js");
    expect((await c.getUser({ id })).user?.activatedAt).toBeUndefined();
    const first = (await c.activateUser({ id })).user!;
    expect(first.activatedAt).toBeDefined();
    await c.deactivateUser({ id });
    const second = (await c.activateUser({ id })).user!;
    expect(second.activatedAt).toEqual(first.activatedAt);
    expect(second.updatedAt!.seconds >= first.updatedAt!.seconds).toBe(true);
  });

  it("two concurrent activations: one succeeds, the other is told the user is already active", async () => {
    const id = await insertUser("racing@example.com", { active: false });
    const results = await Promise.allSettled([users("connect-binary").activateUser({ id }), users("grpc-js").activateUser({ id })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const failed = await callError(Promise.reject((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason));
    expect(detailOf(failed)?.code).toBe("60503");
  });

  it("unknown ids are NotFound, not a state error", async () => {
    // Thunks: a call started before its handler is attached would reject unhandled.
    for (const call of [() => users().activateUser({ id: "zzzzzzzzzzzzzz" }), () => users().deactivateUser({ id: "zzzzzzzzzzzzzz" })]) {
      const e = await callError(call());
      expect(e.code).toBe(Code.NotFound);
      expect(detailOf(e)).toEqual({ code: "60500", meta: { user_id: "zzzzzzzzzzzzzz" } });
    }
  });
});

describe("concurrency", () => {
  it("two concurrent creates of one email (different case): exactly one wins", async () => {
    const results = await Promise.allSettled([
      users("connect-binary").createUser({ email: "twin@example.com", firstName: "A", lastName: "B" }),
      users("grpc-js").createUser({ email: "TWIN@example.com", firstName: "A", lastName: "B" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const [row] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from altalune_users where email = 'twin@example.com'`;
    expect(row?.n).toBe(1);
    const loser = await callError(Promise.reject((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason));
    expect(loser.code).toBe(Code.AlreadyExists);
  });
});

describe("the userCreated hook", () => {
  const recorder = () => {
    const seen: User[] = [];
    const events: UserEvents = {
      async userCreated(user) {
        seen.push(user);
      },
    };
    return { seen, events };
  };
  const errors: Array<{ details: object; message: string }> = [];
  const logger = {
    error: (details: object, message: string) => void errors.push({ details, message }),
    warn: (details: object, message: string) => void errors.push({ details, message }),
  };

  it("is told about each created user, after the user exists", async () => {
    const { seen, events } = recorder();
    let existedWhenCalled = false;
    const service = new UserService(new UserRepo(api.db.sql), {
      async userCreated(user) {
        const [row] = await api.db.sql`select 1 from altalune_users where public_id = ${user.publicId}`;
        existedWhenCalled = row !== undefined;
        await events.userCreated(user);
      },
    }, logger, noEscalationCheck);
    const res = await service.createUser(create(CreateUserRequestSchema, { email: "Hooked@Example.com", firstName: "Hook", lastName: "Ed" }), operatorContext());
    expect(seen.map((u) => u.email)).toEqual(["hooked@example.com"]);
    expect(seen[0]?.publicId).toBe(res.user.id);
    expect(existedWhenCalled).toBe(true);
  });

  it("is not called when creation fails, and its own failure does not fail the call", async () => {
    const { seen, events } = recorder();
    const quiet = new UserService(new UserRepo(api.db.sql), events, logger, noEscalationCheck);
    await expect(quiet.createUser(create(CreateUserRequestSchema, { email: "hooked@example.com", firstName: "Again", lastName: "X" }), operatorContext())).rejects.toMatchObject({ code: "60501" });
    expect(seen).toEqual([]);

    const failing = new UserService(new UserRepo(api.db.sql), { userCreated: () => Promise.reject(new Error("smtp down")) }, logger, noEscalationCheck);
    const res = await failing.createUser(create(CreateUserRequestSchema, { email: "mailless@example.com", firstName: "No", lastName: "Mail" }), operatorContext());
    expect(res.user.email).toBe("mailless@example.com");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/userCreated listener failed/);
  });
});

describe("CreateUser where the defaults are missing", () => {
  let db: TestDatabase;
  const warnings: Array<{ details: object; message: string }> = [];
  const recording = {
    error: () => {
      throw new Error("no error expected");
    },
    warn: (details: object, message: string) => void warnings.push({ details, message }),
  };
  const createIn = (email: string) =>
    new UserService(new UserRepo(db.sql), noUserEvents, recording, noEscalationCheck).createUser(create(CreateUserRequestSchema, { email, firstName: "New", lastName: "User" }), operatorContext());
  const defaultsOf = async (publicId: string) => {
    const [row] = await db.sql<{ roles: string[]; projects: string[] }[]>`
      select array(select r.name from altalune_users_roles ur join altalune_roles r on r.id = ur.role_id where ur.user_id = u.id) as roles,
             array(select m.role from altalune_project_members m where m.user_id = u.id) as projects
      from altalune_users u where u.public_id = ${publicId}`;
    return row;
  };

  beforeAll(async () => {
    // Migrated, never seeded: no `user` role, no default project.
    db = await createTestDatabase();
    await runPostMigrate(db.sql);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("still creates the user, and warns with what is missing and how to fix it", async () => {
    const res = await createIn("unseeded@example.com");
    expect(await defaultsOf(res.user.id)).toEqual({ roles: [], projects: [] });
    expect(warnings).toEqual([
      {
        details: { userId: res.user.id, missing: ["user_role", "default_project"] },
        message:
          "user created without its defaults: the global role 'user' does not exist (recreate it, or run `altalune seed`, then AssignUserRoles); " +
          "there is no default project (run `altalune seed`, then AssignProjectMembers)",
      },
    ]);
  });

  it("warns about just the role when only the role is missing, and not at all once both exist", async () => {
    await seed(db.sql, { info: () => {} }, { superadminEmail: "admin@altalune.local" });
    warnings.length = 0;
    const complete = await createIn("seeded@example.com");
    expect(await defaultsOf(complete.user.id)).toEqual({ roles: ["user"], projects: ["member"] });
    expect(warnings).toEqual([]);

    // An operator may delete the `user` role: it is not protected.
    await db.sql`delete from altalune_roles where name = 'user'`;
    const roleless = await createIn("roleless@example.com");
    expect(await defaultsOf(roleless.user.id)).toEqual({ roles: [], projects: ["member"] });
    expect(warnings.map((w) => w.details)).toEqual([{ userId: roleless.user.id, missing: ["user_role"] }]);
  });
});

describe("bad input is refused identically on every transport, and changes nothing", () => {
  const cases: Array<Refusal<ReturnType<typeof users>>> = [
    invalid("empty email", (c) => c.createUser({ email: "", firstName: "A", lastName: "B" }), { email: "required" }),
    invalid("not an email", (c) => c.createUser({ email: "not-an-email", firstName: "A", lastName: "B" }), { email: "string.email" }),
    invalid("email with a space inside", (c) => c.createUser({ email: "a b@example.com", firstName: "A", lastName: "B" }), { email: "string.email" }),
    invalid("email too long", (c) => c.createUser({ email: `${"a".repeat(250)}@x.com`, firstName: "A", lastName: "B" }), { email: "string.max_len" }),
    invalid("missing last name, first name too long", (c) => c.createUser({ email: "ok@example.com", firstName: "f".repeat(101), lastName: "" }), { first_name: "string.max_len", last_name: "required" }),
    invalid("blank names", (c) => c.createUser({ email: "blank@example.com", firstName: "   ", lastName: "\t" }), { first_name: "string.not_blank", last_name: "string.not_blank" }),
    invalid("id of the wrong length", (c) => c.getUser({ id: "short" }), { id: "string.len" }),
    notFound("unknown id on update", (c) => c.updateUser({ id: "zzzzzzzzzzzzzz", email: "x@example.com", firstName: "X", lastName: "Y" }), "60500", { user_id: "zzzzzzzzzzzzzz" }),
    notFound("unknown id on delete", (c) => c.deleteUser({ id: "zzzzzzzzzzzzzz" }), "60500", { user_id: "zzzzzzzzzzzzzz" }),
  ];

  itRefusesOnEveryTransport(cases, users, () => api.db.sql`select count(*)::int as n from altalune_users`);
});

describe("QueryUsers", () => {
  beforeAll(async () => {
    const c = users("connect-binary");
    const made: string[] = [];
    for (const [first, last] of [
      ["Quinn", "Alpha"],
      ["Quill", "Beta"],
      ["Quade", "Gamma_x"],
      ["Quest", "Delta"],
    ] as const) {
      made.push((await c.createUser({ email: `${first.toLowerCase()}@query.test`, firstName: first, lastName: last })).user!.id);
    }
    await c.deactivateUser({ id: made[1]! });
    await c.deactivateUser({ id: made[3]! });
  });

  const q = (over: Partial<{ keyword: string; filters: Record<string, { values: string[] }>; sorting: { field: string; order: SortOrder }; page: number; pageSize: number }>) => ({
    query: {
      pagination: { page: over.page ?? 1, pageSize: over.pageSize ?? 50 },
      keyword: over.keyword ?? "@query.test",
      filters: over.filters ?? {},
      ...(over.sorting ? { sorting: over.sorting } : {}),
    },
  });

  it.each([
    { what: "default sort: newest first", req: q({}), names: ["Quest", "Quade", "Quill", "Quinn"] },
    { what: "keyword over last name, underscore literal", req: q({ keyword: "a_x" }), names: ["Quade"] },
    { what: "keyword over first name, any case", req: q({ keyword: "QUILL" }), names: ["Quill"] },
    { what: "is_active filter", req: q({ filters: { is_active: { values: ["FALSE"] } }, sorting: { field: "firstName", order: SortOrder.ASC } }), names: ["Quest", "Quill"] },
    { what: "active alias and email filter AND together", req: q({ filters: { active: { values: ["true"] }, email: { values: ["QUINN@query.test", "quest@query.test"] } } }), names: ["Quinn"] },
    { what: "sort by snake_case last_name", req: q({ sorting: { field: "last_name", order: SortOrder.ASC } }), names: ["Quinn", "Quill", "Quest", "Quade"] },
    { what: "unknown sort field falls back to created_at", req: q({ sorting: { field: "password", order: SortOrder.ASC } }), names: ["Quinn", "Quill", "Quade", "Quest"] },
    { what: "unknown filter keys are ignored", req: q({ filters: { role: { values: ["admin"] } }, sorting: { field: "email", order: SortOrder.DESC } }), names: ["Quinn", "Quill", "Quest", "Quade"] },
  ])("$what", async ({ req, names }) => {
    const res = await users("connect-json").queryUsers(req);
    expect(res.data.map((u) => u.firstName)).toEqual(names);
    expect(res.meta?.rowCount).toBe(names.length);
  });

  it("paginates and returns the is_active catalog", async () => {
    const res = await users("grpc-js").queryUsers(q({ pageSize: 3, page: 2, sorting: { field: "firstName", order: SortOrder.ASC } }));
    expect(res.data.map((u) => u.firstName)).toEqual(["Quinn"]);
    expect(res.meta).toMatchObject({ rowCount: 4, pageCount: 2 });
    expect(res.meta?.filters["is_active"]?.values).toEqual(["true", "false"]);
  });

  it("defaults to page 1 of 10 without a query", async () => {
    const res = await users("connect-json").queryUsers({});
    expect(res.data.length).toBeLessThanOrEqual(10);
    expect(res.meta?.rowCount).toBeGreaterThanOrEqual(5);
  });
});
