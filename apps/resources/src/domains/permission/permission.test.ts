import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { PermissionService, SortOrder } from "@altalune/proto";
import { startTestApi, TRANSPORTS, type TestApi, type TransportName } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { invalid, itRefusesOnEveryTransport, notFound, type Refusal } from "../../testing/refusals.js";
import { SEED_PERMISSIONS } from "../iam/index.js";

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

const permissions = (transport: TransportName = "connect-json") => api.client(PermissionService, transport);

async function permissionByName(name: string) {
  const res = await permissions().queryPermissions({ query: { pagination: { page: 1, pageSize: 10 }, filters: { name: { values: [name] } } } });
  const [permission] = res.data;
  if (permission === undefined) throw new Error(`no permission ${name}`);
  return permission;
}

describe.each(TRANSPORTS)("PermissionService over %s", (transport) => {
  const tag = transport.replace(/[^a-z]/g, "_");

  it("creates, reads, updates, lists and deletes a permission", async () => {
    const c = permissions(transport);
    const created = await c.createPermission({ name: `report_${tag}:read`, description: " reads reports " });
    expect(created.message).toBe("Permission created successfully");
    const p = created.permission!;
    expect(p).toMatchObject({ name: `report_${tag}:read`, description: "reads reports" });
    expect(p.id).toMatch(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/);
    expect((await c.getPermission({ id: p.id })).permission).toEqual(p);

    const updated = await c.updatePermission({ id: p.id, name: `Report_${tag}:Read`, description: "" });
    expect(updated).toMatchObject({ message: "Permission updated successfully", permission: { name: `Report_${tag}:Read`, description: "" } });

    const listed = await c.queryPermissions({ query: { pagination: { page: 1, pageSize: 10 }, keyword: `report_${tag}:` } });
    expect(listed.data.map((x) => x.id)).toEqual([p.id]);

    expect((await c.deletePermission({ id: p.id })).message).toBe("Permission deleted successfully");
    const gone = await callError(c.getPermission({ id: p.id }));
    expect(gone.code).toBe(Code.NotFound);
    expect(detailOf(gone)).toEqual({ code: "60700", meta: { permission_id: p.id } });
  });

  it("names are unique case-insensitively, on create and on update", async () => {
    const c = permissions(transport);
    await c.createPermission({ name: `audit_${tag}:read` });
    const dup = await callError(c.createPermission({ name: `AUDIT_${tag}:READ` }));
    expect(dup.code).toBe(Code.AlreadyExists);
    expect(detailOf(dup)).toEqual({ code: "60701", meta: { name: `AUDIT_${tag}:READ` } });
    const other = (await c.createPermission({ name: `audit_${tag}:write` })).permission!;
    const clash = await callError(c.updatePermission({ id: other.id, name: `Audit_${tag}:Read` }));
    expect(detailOf(clash)).toEqual({ code: "60701", meta: { name: `Audit_${tag}:Read` } });
  });

  it("root can be neither deleted nor renamed, but its description can change", async () => {
    const c = permissions(transport);
    const root = await permissionByName("root");
    const del = await callError(c.deletePermission({ id: root.id }));
    expect(del.code).toBe(Code.FailedPrecondition);
    expect(detailOf(del)).toEqual({ code: "60705", meta: { permission_name: "root" } });
    for (const name of ["all:all", "ROOT"]) {
      const rename = await callError(c.updatePermission({ id: root.id, name }));
      expect(detailOf(rename)).toEqual({ code: "60705", meta: { permission_name: "root" } });
    }
    const described = await c.updatePermission({ id: root.id, name: "root", description: `Everything (${tag})` });
    expect(described.permission).toMatchObject({ name: "root", description: `Everything (${tag})` });
  });
});

describe("bad input is refused identically on every transport, and changes nothing", () => {
  const cases: Array<Refusal<ReturnType<typeof permissions>>> = [
    invalid("empty name", (c) => c.createPermission({ name: "" }), { name: "required" }),
    invalid("one-letter name", (c) => c.createPermission({ name: "a" }), { name: "string.min_len" }),
    invalid("white space", (c) => c.createPermission({ name: " report:read" }), { name: "string.pattern" }),
    invalid("a dash", (c) => c.createPermission({ name: "api-key:read" }), { name: "string.pattern" }),
    invalid("name too long", (c) => c.createPermission({ name: "p".repeat(101) }), { name: "string.max_len" }),
    invalid("description too long", (c) => c.createPermission({ name: "long:desc", description: "d".repeat(501) }), { description: "string.max_len" }),
    invalid("id of the wrong length", (c) => c.getPermission({ id: "abc" }), { id: "string.len" }),
    notFound("unknown id on update", (c) => c.updatePermission({ id: "zzzzzzzzzzzzzz", name: "nobody:read" }), "60700", { permission_id: "zzzzzzzzzzzzzz" }),
    notFound("unknown id on delete", (c) => c.deletePermission({ id: "zzzzzzzzzzzzzz" }), "60700", { permission_id: "zzzzzzzzzzzzzz" }),
  ];

  itRefusesOnEveryTransport(cases, permissions, () => api.db.sql`select public_id, name, description from altalune_permissions order by id`);
});

describe("QueryPermissions", () => {
  const seeded = SEED_PERMISSIONS.map((p) => p.name);

  it("lists the seeded permissions by name, paginated", async () => {
    const c = permissions("grpc-js");
    const query = (page: number) => ({ query: { pagination: { page, pageSize: 30 }, filters: { name: { values: seeded } } } });
    const page1 = await c.queryPermissions(query(1));
    expect(page1.meta).toMatchObject({ rowCount: 35, pageCount: 2 });
    const page2 = await c.queryPermissions(query(2));
    expect(page2.data).toHaveLength(5);
    const names = [...page1.data, ...page2.data].map((p) => p.name);
    expect(names).toEqual([...seeded].sort());
  });

  it.each([
    { what: "keyword over name", keyword: "apikey:", names: ["apikey:delete", "apikey:read", "apikey:write"] },
    { what: "keyword over description", keyword: "OAuth providers", names: ["provider:delete", "provider:read", "provider:write"] },
    { what: "keyword, _ literal (matches nothing)", keyword: "api_key", names: [] },
  ])("$what", async ({ keyword, names }) => {
    const res = await permissions("connect-json").queryPermissions({ query: { pagination: { page: 1, pageSize: 50 }, keyword } });
    expect(res.data.map((p) => p.name)).toEqual(names);
    expect(res.meta?.pageCount).toBe(names.length === 0 ? 0 : 1);
  });

  it("filters by name and sorts descending; an unknown sort field falls back to name", async () => {
    const c = permissions("connect-binary");
    const filters = { name: { values: ["IAM:READ", "iam:write", "root"] } };
    for (const field of ["name", "bogus"]) {
      const res = await c.queryPermissions({ query: { pagination: { page: 1, pageSize: 10 }, filters, sorting: { field, order: SortOrder.DESC } } });
      expect(res.data.map((p) => p.name)).toEqual(["root", "iam:write", "iam:read"]);
    }
  });
});

describe("concurrency", () => {
  it("two concurrent creates of one name (different case): exactly one wins", async () => {
    const results = await Promise.allSettled([
      permissions("connect-binary").createPermission({ name: "race:read" }),
      permissions("grpc-js").createPermission({ name: "RACE:read" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const loser = await callError(Promise.reject((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason));
    expect(detailOf(loser)?.code).toBe("60701");
  });
});
