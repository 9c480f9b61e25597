import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { RoleService, SortOrder } from "@altalune/proto";
import { startTestApi, TRANSPORTS, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { invalid, itRefusesOnEveryTransport, notFound, type Refusal } from "../../testing/refusals.js";

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

const roles = (transport: TransportName = "connect-json") => api.client(RoleService, transport);

async function roleByName(name: string) {
  const res = await roles().queryRoles({ query: { pagination: { page: 1, pageSize: 10 }, filters: { name: { values: [name] } } } });
  const [role] = res.data;
  if (role === undefined) throw new Error(`no role ${name}`);
  return role;
}

describe.each(TRANSPORTS)("RoleService over %s", (transport) => {
  const tag = transport.replace(/[^a-z]/g, "");

  it("creates, reads, updates, lists and deletes a role", async () => {
    const c = roles(transport);
    const created = await c.createRole({ name: `  Editors ${tag} `, description: " edits things " });
    expect(created.message).toBe("Role created successfully");
    const r = created.role!;
    expect(r).toMatchObject({ name: `Editors ${tag}`, description: "edits things" });
    expect(r.id).toMatch(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/);
    expect((await c.getRole({ id: r.id })).role).toEqual(r);

    const updated = await c.updateRole({ id: r.id, name: `editors ${tag}`, description: "" });
    expect(updated).toMatchObject({ message: "Role updated successfully", role: { name: `editors ${tag}`, description: "" } });

    const listed = await c.queryRoles({ query: { pagination: { page: 1, pageSize: 10 }, keyword: `EDITORS ${tag}` } });
    expect(listed.data.map((x) => x.id)).toEqual([r.id]);

    expect((await c.deleteRole({ id: r.id })).message).toBe("Role deleted successfully");
    const gone = await callError(c.getRole({ id: r.id }));
    expect(gone.code).toBe(Code.NotFound);
    expect(detailOf(gone)).toEqual({ code: "60600", meta: { role_id: r.id } });
  });

  it("names are unique case-insensitively, on create and on update", async () => {
    const c = roles(transport);
    await c.createRole({ name: `Auditors ${tag}` });
    const dup = await callError(c.createRole({ name: `AUDITORS ${tag}` }));
    expect(dup.code).toBe(Code.AlreadyExists);
    expect(detailOf(dup)).toEqual({ code: "60601", meta: { name: `AUDITORS ${tag}` } });
    const other = (await c.createRole({ name: `Viewers ${tag}` })).role!;
    const clash = await callError(c.updateRole({ id: other.id, name: `auditors ${tag}` }));
    expect(detailOf(clash)).toEqual({ code: "60601", meta: { name: `auditors ${tag}` } });
  });

  it("the superadmin role can be neither deleted nor renamed, but its description can change", async () => {
    const c = roles(transport);
    const superadmin = await roleByName("superadmin");
    const del = await callError(c.deleteRole({ id: superadmin.id }));
    expect(del.code).toBe(Code.FailedPrecondition);
    expect(detailOf(del)).toEqual({ code: "60604", meta: { role_name: "superadmin" } });
    for (const name of ["root-admins", "SuperAdmin"]) {
      const rename = await callError(c.updateRole({ id: superadmin.id, name, description: "x" }));
      expect(detailOf(rename)).toEqual({ code: "60604", meta: { role_name: "superadmin" } });
    }
    const described = await c.updateRole({ id: superadmin.id, name: "superadmin", description: `Operators (${tag})` });
    expect(described.role).toMatchObject({ name: "superadmin", description: `Operators (${tag})` });
  });
});

describe("bad input is refused identically on every transport, and changes nothing", () => {
  const cases: Array<Refusal<ReturnType<typeof roles>>> = [
    invalid("empty name", (c) => c.createRole({ name: "" }), { name: "required" }),
    invalid("one-letter name", (c) => c.createRole({ name: "a" }), { name: "string.min_len" }),
    invalid("one letter once trimmed", (c) => c.createRole({ name: " a " }), { name: "string.min_len" }),
    invalid("blank name", (c) => c.createRole({ name: "    " }), { name: "string.not_blank" }),
    invalid("forbidden characters", (c) => c.createRole({ name: "role:admin" }), { name: "string.pattern" }),
    invalid("name too long", (c) => c.createRole({ name: "r".repeat(101) }), { name: "string.max_len" }),
    invalid("description too long", (c) => c.createRole({ name: "Long desc", description: "d".repeat(501) }), { description: "string.max_len" }),
    invalid("id of the wrong length", (c) => c.deleteRole({ id: "abc" }), { id: "string.len" }),
    notFound("unknown id on update", (c) => c.updateRole({ id: "zzzzzzzzzzzzzz", name: "Nobody" }), "60600", { role_id: "zzzzzzzzzzzzzz" }),
    notFound("unknown id on delete", (c) => c.deleteRole({ id: "zzzzzzzzzzzzzz" }), "60600", { role_id: "zzzzzzzzzzzzzz" }),
  ];

  itRefusesOnEveryTransport(cases, roles, () => api.db.sql`select public_id, name, description from altalune_roles order by id`);
});

describe("QueryRoles", () => {
  beforeAll(async () => {
    const c = roles("connect-binary");
    for (const [name, description] of [
      ["Q Alpha", "first 100% role"],
      ["Q Beta", "second"],
      ["Q Gamma", "third_one"],
    ] as const) {
      await c.createRole({ name, description });
    }
  });

  const q = (over: Partial<{ keyword: string; filters: Record<string, { values: string[] }>; sorting: { field: string; order: SortOrder } }>) => ({
    query: {
      pagination: { page: 1, pageSize: 50 },
      keyword: over.keyword ?? "Q ",
      filters: over.filters ?? {},
      ...(over.sorting ? { sorting: over.sorting } : {}),
    },
  });

  it.each([
    { what: "default sort: name ascending", req: q({}), names: ["Q Alpha", "Q Beta", "Q Gamma"] },
    { what: "keyword over description, % literal", req: q({ keyword: "100%" }), names: ["Q Alpha"] },
    { what: "keyword, _ literal", req: q({ keyword: "d_o" }), names: ["Q Gamma"] },
    { what: "name filter, any case", req: q({ filters: { name: { values: ["q BEta", "q gamma"] } } }), names: ["Q Beta", "Q Gamma"] },
    { what: "sort by createdAt descending", req: q({ sorting: { field: "createdAt", order: SortOrder.DESC } }), names: ["Q Gamma", "Q Beta", "Q Alpha"] },
    { what: "unknown sort field falls back to name", req: q({ sorting: { field: "nope", order: SortOrder.DESC } }), names: ["Q Gamma", "Q Beta", "Q Alpha"] },
  ])("$what", async ({ req, names }) => {
    const res = await roles("grpc-js").queryRoles(req);
    expect(res.data.map((r) => r.name)).toEqual(names);
    expect(res.meta).toMatchObject({ rowCount: names.length, pageCount: 1 });
    expect(res.meta?.filters).toEqual({});
  });

  it("defaults to page 1 of 10 without a query and includes the seeded roles", async () => {
    const res = await roles("connect-json").queryRoles({ query: { pagination: { page: 1, pageSize: 100 } } });
    expect(res.data.map((r) => r.name)).toEqual(expect.arrayContaining(["superadmin", "user"]));
  });
});

describe("concurrency", () => {
  it("two concurrent creates of one name (different case): exactly one wins", async () => {
    const results = await Promise.allSettled([roles("connect-binary").createRole({ name: "Racers" }), roles("grpc-js").createRole({ name: "racers" })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const loser = await callError(Promise.reject((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason));
    expect(detailOf(loser)?.code).toBe("60601");
  });
});
