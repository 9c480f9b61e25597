import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProjectService, ConfigService, SortOrder } from "@altalune/proto";
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

async function partitionsOf(projectPublicId: string): Promise<string[]> {
  const rows = await api.db.sql<{ relname: string }[]>`
    select c.relname from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join altalune_projects p on c.relname like '%\_p' || p.id
    where p.public_id = ${projectPublicId}`;
  return rows.map((r) => r.relname).sort();
}

async function partitionCountForId(internalId: string): Promise<number> {
  const [row] = await api.db.sql<{ n: number }[]>`
    select count(*)::int as n from pg_class where relname = ${`altalune_example_employees_p${internalId}`}`;
  return row?.n ?? 0;
}

describe.each(TRANSPORTS)("ProjectService over %s", (transport: TransportName) => {
  const tag = transport.replace(/[^a-z]/g, " ").trim();

  it("runs create → get → update → query → delete, with partitions following the project", async () => {
    const projects = api.client(ProjectService, transport);
    const created = await projects.createProject({
      name: `Apollo ${tag}`,
      description: "first",
      timezone: "europe/paris",
      environment: "sandbox",
    });
    expect(created.message).toBe("Project created successfully");
    const p = created.project!;
    expect(p.id).toMatch(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/);
    expect(p).toMatchObject({ name: `Apollo ${tag}`, timezone: "Europe/Paris", environment: "sandbox", isDefault: false });
    expect(await partitionsOf(p.id)).toContain(`altalune_example_employees_p${await internalId(p.id)}`);

    const got = await projects.getProject({ id: p.id });
    expect(got.project).toEqual(p);

    const updated = await projects.updateProject({ id: p.id, name: `Apollo ${tag} II`, description: "", timezone: "UTC" });
    expect(updated.message).toBe("Project updated successfully");
    expect(updated.project).toMatchObject({ name: `Apollo ${tag} II`, description: "", timezone: "UTC", environment: "sandbox" });
    expect(updated.project!.updatedAt!.seconds >= p.updatedAt!.seconds).toBe(true);

    const listed = await projects.queryProjects({
      query: { pagination: { page: 1, pageSize: 10 }, keyword: `apollo ${tag} ii`, filters: {} },
    });
    expect(listed.data.map((x) => x.id)).toEqual([p.id]);
    expect(listed.meta).toMatchObject({ rowCount: 1, pageCount: 1 });

    const id = await internalId(p.id);
    const deleted = await projects.deleteProject({ id: p.id });
    expect(deleted.message).toBe("Project deleted successfully");
    expect(await partitionCountForId(id)).toBe(0);
    const gone = await callError(projects.getProject({ id: p.id }));
    expect(gone.code).toBe(Code.NotFound);
    expect(detailOf(gone)).toEqual({ code: "60301", meta: { project_id: p.id } });
  });

  it("rejects a duplicate name case-insensitively with the project's own code", async () => {
    const projects = api.client(ProjectService, transport);
    await projects.createProject({ name: `Dup ${tag}`, timezone: "UTC", environment: "live" });
    const e = await callError(projects.createProject({ name: `DUP ${tag.toUpperCase()}`, timezone: "UTC", environment: "live" }));
    expect(e.code).toBe(Code.AlreadyExists);
    expect(detailOf(e)).toEqual({ code: "60302", meta: { name: `DUP ${tag.toUpperCase()}` } });
  });

  it("refuses to delete the default project", async () => {
    const projects = api.client(ProjectService, transport);
    const listed = await projects.queryProjects({
      query: { pagination: { page: 1, pageSize: 100 }, filters: {}, keyword: "" },
    });
    const def = listed.data.find((x) => x.isDefault)!;
    expect(def).toBeDefined();
    const e = await callError(projects.deleteProject({ id: def.id }));
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(detailOf(e)).toEqual({ code: "60303", meta: { project_id: def.id } });
    expect((await projects.getProject({ id: def.id })).project?.isDefault).toBe(true);
  });

  it("serves GetPublicConfig", async () => {
    const config = api.client(ConfigService, transport);
    expect((await config.getPublicConfig({})).branding).toMatchObject({
      dashboardName: "Altalune Dashboard",
      authServerName: "Authalune",
    });
  });
});

async function internalId(publicId: string): Promise<string> {
  const [row] = await api.db.sql<{ id: string }[]>`select id::text as id from altalune_projects where public_id = ${publicId}`;
  if (row === undefined) throw new Error(`no project ${publicId}`);
  return row.id;
}

describe("bad input is refused identically on every transport, and changes nothing", () => {
  const cases: Array<Refusal<ReturnType<typeof projectsOver>>> = [
    invalid("empty name", (c) => c.createProject({ name: "", timezone: "UTC", environment: "live" }), { name: "required" }),
    invalid("name with forbidden characters", (c) => c.createProject({ name: "x<script>", timezone: "UTC", environment: "live" }), { name: "string.pattern" }),
    invalid("name too long", (c) => c.createProject({ name: "n".repeat(51), timezone: "UTC", environment: "live" }), { name: "string.max_len" }),
    invalid("unknown environment", (c) => c.createProject({ name: "Env test", timezone: "UTC", environment: "staging" }), { environment: "string.in" }),
    invalid("description too long and missing timezone", (c) => c.createProject({ name: "Two problems", description: "d".repeat(101), environment: "live" }), { description: "string.max_len", timezone: "required" }),
    invalid("not a time zone", (c) => c.createProject({ name: "Tz test", timezone: "Mars/Olympus", environment: "live" }), { timezone: "timezone.iana" }),
    invalid("blank name", (c) => c.createProject({ name: "   ", timezone: "UTC", environment: "live" }), { name: "string.not_blank" }),
    invalid("id of the wrong length", (c) => c.getProject({ id: "short" }), { id: "string.len" }),
    invalid("a NUL character in a free-text field", (c) => c.createProject({ name: "Nul test", description: "a\u0000b", timezone: "UTC", environment: "live" }), { description: "string.no_nul" }),
    invalid("a NUL character in the keyword", (c) => c.queryProjects({ query: { pagination: { page: 1, pageSize: 10 }, keyword: "x\u0000" } }), { "query.keyword": "string.no_nul" }),
    invalid("a NUL character in a filter value", (c) => c.queryProjects({ query: { pagination: { page: 1, pageSize: 10 }, filters: { environment: { values: ["live\u0000"] } } } }), { "query.filters[environment].values[0]": "string.no_nul" }),
    notFound("unknown id", (c) => c.updateProject({ id: "zzzzzzzzzzzzzz", name: "Whatever", timezone: "UTC" }), "60301", { project_id: "zzzzzzzzzzzzzz" }),
    invalid("page size over the limit", (c) => c.queryProjects({ query: { pagination: { page: 1, pageSize: 10001 } } }), { "query.pagination.page_size": "int32.gt_lte" }),
    invalid("page zero", (c) => c.queryProjects({ query: { pagination: { page: 0, pageSize: 10 } } }), { "query.pagination.page": "required" }),
  ];

  function projectsOver(transport: TransportName) {
    return api.client(ProjectService, transport);
  }

  itRefusesOnEveryTransport(cases, projectsOver, () => api.db.sql`select count(*)::int as n from altalune_projects`);
});

describe("QueryProjects", () => {
  beforeAll(async () => {
    const c = api.client(ProjectService, "connect-binary");
    for (const [name, timezone, environment, description] of [
      ["Q Alpha", "Asia/Tokyo", "live", "rocket 100% fuel"],
      ["Q Beta", "Asia/Tokyo", "sandbox", "rocket 1000 fuel"],
      ["Q Gamma", "America/New_York", "sandbox", "under_score"],
      ["Q Delta", "Europe/Berlin", "live", "underXscore"],
    ] as const) {
      await c.createProject({ name, timezone, environment, description });
    }
  });

  const q = (over: Partial<{ keyword: string; filters: Record<string, { values: string[] }>; sorting: { field: string; order: SortOrder }; page: number; pageSize: number }>) => ({
    query: {
      pagination: { page: over.page ?? 1, pageSize: over.pageSize ?? 50 },
      keyword: over.keyword ?? "",
      filters: over.filters ?? {},
      ...(over.sorting ? { sorting: over.sorting } : {}),
    },
  });

  it.each([
    { what: "keyword over name and description, wildcards literal", req: q({ keyword: "100%" }), names: ["Q Alpha"] },
    { what: "underscore is literal", req: q({ keyword: "under_" }), names: ["Q Gamma"] },
    { what: "filters AND across keys, IN within a key", req: q({ keyword: "Q ", filters: { environment: { values: ["LIVE"] }, timezones: { values: ["asia/tokyo", "europe/berlin"] } } }), names: ["Q Alpha", "Q Delta"] },
    { what: "unknown filter keys are ignored", req: q({ keyword: "Q ", filters: { nope: { values: ["x"] } } }), names: ["Q Alpha", "Q Beta", "Q Delta", "Q Gamma"] },
    { what: "sort by snake_case field, descending", req: q({ keyword: "Q ", sorting: { field: "created_at", order: SortOrder.DESC } }), names: ["Q Delta", "Q Gamma", "Q Beta", "Q Alpha"] },
    { what: "unknown sort field falls back to name", req: q({ keyword: "Q ", sorting: { field: "bogus; drop table x", order: SortOrder.DESC } }), names: ["Q Gamma", "Q Delta", "Q Beta", "Q Alpha"] },
  ])("$what", async ({ req, names }) => {
    const res = await api.client(ProjectService, "connect-json").queryProjects(req);
    const got = res.data.map((p) => p.name);
    if (names.length > 1 && !("sorting" in req.query)) expect(got).toEqual([...names].sort());
    else expect(got).toEqual(names);
    expect(res.meta?.rowCount).toBe(names.length);
  });

  it("paginates and returns the filter catalog", async () => {
    const res = await api.client(ProjectService, "grpc-js").queryProjects(q({ keyword: "Q ", pageSize: 3, page: 2 }));
    expect(res.data.map((p) => p.name)).toEqual(["Q Gamma"]);
    expect(res.meta?.rowCount).toBe(4);
    expect(res.meta?.pageCount).toBe(2);
    expect(res.meta?.filters["environments"]?.values).toEqual(["live", "sandbox"]);
    expect(res.meta?.filters["timezones"]?.values).toEqual(expect.arrayContaining(["America/New_York", "Asia/Tokyo", "Europe/Berlin"]));
  });

  it("defaults to page 1 of 10 without a query", async () => {
    const res = await api.client(ProjectService, "connect-json").queryProjects({});
    expect(res.data.length).toBeLessThanOrEqual(10);
    expect(res.meta?.rowCount).toBeGreaterThanOrEqual(5);
  });
});

describe("atomicity and concurrency", () => {
  it("two concurrent creates of one name: exactly one wins", async () => {
    const c = api.client(ProjectService, "connect-binary");
    const results = await Promise.allSettled([
      c.createProject({ name: "Race", timezone: "UTC", environment: "live" }),
      c.createProject({ name: "race", timezone: "UTC", environment: "live" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect(ConnectError.from(rejected?.reason).code).toBe(Code.AlreadyExists);
  });

  it("a project whose partitions cannot be created is not created either", async () => {
    // A partition name over PostgreSQL's 63-byte limit makes partition creation fail mid-transaction.
    const longName = `t${"x".repeat(60)}`;
    await api.db.sql.unsafe(`create table ${longName} (project_id bigint not null, v int) partition by list (project_id)`);
    try {
      const e = await callError(
        api.client(ProjectService, "connect-json").createProject({ name: "Half done", timezone: "UTC", environment: "live" }),
      );
      expect(e.code).toBe(Code.Internal);
      expect(e.rawMessage).toMatch(/^internal error \(request id [0-9a-f-]{36}\)$/);
      const rows = await api.db.sql`select 1 from altalune_projects where name = 'Half done'`;
      expect(rows).toHaveLength(0);
      const orphans = await api.db.sql`select relname from pg_class where relkind = 'r' and relname like 'altalune\_example\_employees\_p%'
        and relname not in (select 'altalune_example_employees_p' || id from altalune_projects)`;
      expect(orphans).toHaveLength(0);
    } finally {
      await api.db.sql.unsafe(`drop table ${longName}`);
    }
  });
});
