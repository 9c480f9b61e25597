import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { CreateEmployeeRequestSchema, EmployeeService, EmployeeStatus, ProjectService, QueryEmployeesRequestSchema, SortOrder } from "@altalune/proto";
import { startTestApi, TRANSPORTS, type TestApi } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { expectInvalidOnBothProtocols } from "../../testing/refusals.js";
import { listQuery, type ListQueryOver as Over } from "../../testing/list-query.js";
import { searchDocumentSql } from "@altalune/db";
import { ProjectRepo } from "../project/index.js";
import { EmployeeRepo, employeeListSpec } from "./repo.js";
import { EmployeeService as EmployeeServiceImpl } from "./service.js";

let api: TestApi;
let projectA: string;
let projectB: string;

beforeAll(async () => {
  api = await startTestApi();
  const projects = api.client(ProjectService, "connect-binary");
  projectA = (await projects.createProject({ name: "Employees A", timezone: "UTC", environment: "live" })).project!.id;
  projectB = (await projects.createProject({ name: "Employees B", timezone: "UTC", environment: "live" })).project!.id;
});
afterAll(async () => {
  await api?.close();
});

const person = (n: string, over: Partial<{ email: string; role: string; department: string; status: EmployeeStatus }> = {}) => ({
  name: n,
  email: over.email ?? `${n.toLowerCase().replace(/\s+/g, ".")}@example.com`,
  role: over.role ?? "Engineer",
  department: over.department ?? "Platform",
  status: over.status ?? EmployeeStatus.ACTIVE,
});

describe.each(TRANSPORTS)("EmployeeService over %s", (transport) => {
  const tag = transport.replace(/[^a-z]/g, " ").replace(/\s+/g, " ").trim();

  it("creates, reads, updates, lists and deletes an employee", async () => {
    const employees = api.client(EmployeeService, transport);
    const created = await employees.createEmployee({ projectId: projectA, ...person(`Ada ${tag}`) });
    expect(created.message).toBe("Employee created successfully");
    const e = created.employee!;
    expect(e).toMatchObject({ name: `Ada ${tag}`, role: "Engineer", status: EmployeeStatus.ACTIVE });
    expect(e.id).toMatch(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/);

    expect((await employees.getEmployee({ projectId: projectA, employeeId: e.id })).employee).toEqual(e);

    const updated = await employees.updateEmployee({
      projectId: projectA,
      employeeId: e.id,
      ...person(`Ada ${tag}`, { role: "Lead", status: EmployeeStatus.INACTIVE, email: e.email }),
    });
    expect(updated.message).toBe("Employee updated successfully");
    expect(updated.employee).toMatchObject({ role: "Lead", status: EmployeeStatus.INACTIVE });

    const listed = await employees.queryEmployees({
      projectId: projectA,
      query: { pagination: { page: 1, pageSize: 10 }, keyword: `ada ${tag}`, filters: {} },
    });
    expect(listed.data.map((x) => x.id)).toEqual([e.id]);

    expect((await employees.deleteEmployee({ projectId: projectA, employeeId: e.id })).message).toBe("Employee deleted successfully");
    const gone = await callError(employees.getEmployee({ projectId: projectA, employeeId: e.id }));
    expect(gone.code).toBe(Code.NotFound);
    expect(detailOf(gone)).toEqual({ code: "60201", meta: { employee_id: e.id } });
  });
});

describe("project isolation", () => {
  it("an employee of project A is not found through project B, for every RPC", async () => {
    const employees = api.client(EmployeeService, "grpc-js");
    const e = (await employees.createEmployee({ projectId: projectA, ...person("Isolated One") })).employee!;
    const viaB = [
      () => employees.getEmployee({ projectId: projectB, employeeId: e.id }),
      () => employees.updateEmployee({ projectId: projectB, employeeId: e.id, ...person("Isolated One") }),
      () => employees.deleteEmployee({ projectId: projectB, employeeId: e.id }),
    ];
    for (const call of viaB) {
      const err = await callError(call());
      expect(err.code).toBe(Code.NotFound);
      expect(detailOf(err)?.code).toBe("60201");
    }
    const listedInB = await employees.queryEmployees({
      projectId: projectB,
      query: { pagination: { page: 1, pageSize: 100 }, keyword: "Isolated", filters: {} },
    });
    expect(listedInB.data).toEqual([]);
    expect((await employees.getEmployee({ projectId: projectA, employeeId: e.id })).employee?.name).toBe("Isolated One");
  });

  it("an unknown project is NotFound 60301", async () => {
    const err = await callError(
      api.client(EmployeeService, "connect-json").createEmployee({ projectId: "zzzzzzzzzzzzzz", ...person("Nobody Here") }),
    );
    expect(err.code).toBe(Code.NotFound);
    expect(detailOf(err)).toEqual({ code: "60301", meta: { project_id: "zzzzzzzzzzzzzz" } });
  });

  it("the same email may exist once per project, case-insensitively", async () => {
    const employees = api.client(EmployeeService, "connect-binary");
    await employees.createEmployee({ projectId: projectA, ...person("Grace Hopper", { email: "grace@navy.mil" }) });
    await employees.createEmployee({ projectId: projectB, ...person("Grace Hopper", { email: "grace@navy.mil" }) });
    const dup = await callError(
      employees.createEmployee({ projectId: projectA, ...person("Other Grace", { email: "GRACE@Navy.mil" }) }),
    );
    expect(dup.code).toBe(Code.AlreadyExists);
    expect(detailOf(dup)).toEqual({ code: "60202", meta: { email: "GRACE@Navy.mil" } });

    // Updating another employee onto a taken email is refused too.
    const other = (await employees.createEmployee({ projectId: projectA, ...person("Mary Jackson") })).employee!;
    const onto = await callError(
      employees.updateEmployee({ projectId: projectA, employeeId: other.id, ...person("Mary Jackson", { email: "Grace@navy.mil" }) }),
    );
    expect(detailOf(onto)?.code).toBe("60202");
  });

  it("two concurrent creates with one email: exactly one succeeds", async () => {
    const employees = api.client(EmployeeService, "connect-binary");
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) =>
        employees.createEmployee({ projectId: projectA, ...person("Race Runner", { email: i % 2 ? "race@x.io" : "RACE@x.io" }) }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.AlreadyExists);
  });
});

describe("bad input", () => {
  it.each([
    { what: "unspecified status", req: { ...person("Valid Name"), status: EmployeeStatus.UNSPECIFIED }, meta: { status: "enum.not_in" } },
    { what: "digits in the name", req: person("R2D2 Droid"), meta: { name: "string.pattern" } },
    { what: "one-letter name", req: person("X"), meta: { name: "string.min_len" } },
    { what: "not an email", req: { ...person("Valid Name"), email: "not-an-email" }, meta: { email: "string.email" } },
    { what: "short role and department", req: { ...person("Valid Name"), role: "x", department: "" }, meta: { role: "string.min_len", department: "string.min_len" } },
    { what: "blank name", req: person("   "), meta: { name: "string.not_blank" } },
  ])("$what → InvalidArgument naming the rule, nothing written", async ({ req, meta }) => {
    const create = (transport: "connect-json" | "grpc-js") => api.client(EmployeeService, transport).createEmployee({ projectId: projectA, ...req });
    await expectInvalidOnBothProtocols(create, meta, () => api.db.sql`select count(*)::int as n from altalune_example_employees`);
  });

  it("QueryEmployees requires a query", async () => {
    const err = await callError(api.client(EmployeeService, "connect-json").queryEmployees({ projectId: projectA }));
    expect(detailOf(err)).toEqual({ code: "60001", meta: { query: "required" } });
  });
});

describe("QueryEmployees", () => {
  let project: string;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    project = (await api.client(ProjectService, "connect-binary").createProject({ name: "Query Co", timezone: "UTC", environment: "live" })).project!.id;
    const employees = api.client(EmployeeService, "connect-binary");
    const rows: Array<[string, string, string, EmployeeStatus, string?]> = [
      ["Alice Smith", "Engineer", "Platform", EmployeeStatus.ACTIVE],
      ["Bob Stone", "Engineer", "Data", EmployeeStatus.INACTIVE],
      ["Carol Jones", "Designer", "Product", EmployeeStatus.ACTIVE],
      ["Dan Brown", "Manager", "Platform", EmployeeStatus.ACTIVE, "dan_b@corp.io"],
      ["Eve Adams", "Engineer", "Security", EmployeeStatus.INACTIVE, "danxb@corp.io"],
    ];
    for (const [name, role, department, status, email] of rows) {
      const e = await employees.createEmployee({ projectId: project, ...person(name, { role, department, status, ...(email ? { email } : {}) }) });
      ids.set(name, e.employee!.id);
    }
  });

  const query = (over: Over) => ({ projectId: project, query: listQuery(over) });

  it.each([
    { what: "default order is newest first", q: {} as Over, names: ["Eve Adams", "Dan Brown", "Carol Jones", "Bob Stone", "Alice Smith"] },
    { what: "keyword over role", q: { keyword: "DESIGN" } as Over, names: ["Carol Jones"] },
    { what: "keyword over department", q: { keyword: "securi", sort: ["name", SortOrder.ASC] } as Over, names: ["Eve Adams"] },
    { what: "underscore in the keyword is literal", q: { keyword: "dan_b" } as Over, names: ["Dan Brown"] },
    {
      what: "filters AND across keys, IN within a key",
      q: { filters: { roles: ["engineer", "manager"], status: ["ACTIVE"] }, sort: ["name", SortOrder.ASC] } as Over,
      names: ["Alice Smith", "Dan Brown"],
    },
    { what: "department filter", q: { filters: { department: ["platform"] }, sort: ["name", SortOrder.DESC] } as Over, names: ["Dan Brown", "Alice Smith"] },
    { what: "keyword + filter + sort", q: { keyword: "e", filters: { statuses: ["inactive"] }, sort: ["name", SortOrder.ASC] } as Over, names: ["Bob Stone", "Eve Adams"] },
    { what: "snake_case sort field", q: { sort: ["created_at", SortOrder.ASC] } as Over, names: ["Alice Smith", "Bob Stone", "Carol Jones", "Dan Brown", "Eve Adams"] },
    { what: "page 2 of size 2", q: { sort: ["name", SortOrder.ASC], page: 2, pageSize: 2 } as Over, names: ["Carol Jones", "Dan Brown"] },
  ])("$what", async ({ q, names }) => {
    const res = await api.client(EmployeeService, "connect-json").queryEmployees(query(q));
    expect(res.data.map((e) => e.id)).toEqual(names.map((n) => ids.get(n)));
  });

  it("returns counts and the catalog of roles, departments and statuses in this project only", async () => {
    const res = await api.client(EmployeeService, "grpc-js").queryEmployees(query({ pageSize: 2 }));
    expect(res.meta).toMatchObject({ rowCount: 5, pageCount: 3 });
    expect(res.meta?.filters["roles"]?.values).toEqual(["Designer", "Engineer", "Manager"]);
    expect(res.meta?.filters["departments"]?.values).toEqual(["Data", "Platform", "Product", "Security"]);
    expect(res.meta?.filters["statuses"]?.values).toEqual(["active", "inactive"]);
  });
});

describe("deleting a project", () => {
  it("removes its employees with its partition, and nothing else", async () => {
    const projects = api.client(ProjectService, "connect-binary");
    const employees = api.client(EmployeeService, "connect-binary");
    const doomed = (await projects.createProject({ name: "Doomed", timezone: "UTC", environment: "sandbox" })).project!.id;
    await employees.createEmployee({ projectId: doomed, ...person("Soon Gone") });
    const othersBefore = await api.db.sql`
      select count(*)::int as n from altalune_example_employees e join altalune_projects p on p.id = e.project_id
      where p.public_id <> ${doomed}`;
    await projects.deleteProject({ id: doomed });
    const othersAfter = await api.db.sql`select count(*)::int as n from altalune_example_employees`;
    expect(othersAfter).toEqual(othersBefore);
    const err = await callError(employees.queryEmployees({ projectId: doomed, query: { pagination: { page: 1, pageSize: 1 } } }));
    expect(detailOf(err)?.code).toBe("60301");
  });
});

describe("project ids remembered by a replica", () => {
  it("an empty query result re-checks the project, a non-empty one does not need to", async () => {
    const projects = new ProjectRepo(api.db.sql);
    const lookups: string[] = [];
    const resolve = projects.resolve.bind(projects);
    projects.resolve = (publicId: string) => (lookups.push(publicId), resolve(publicId));
    const employees = new EmployeeServiceImpl(new EmployeeRepo(api.db.sql), projects);
    const projectId = api.defaultProjectId;
    const query = (keyword: string) => create(QueryEmployeesRequestSchema, { projectId, query: { pagination: { page: 1, pageSize: 10 }, keyword } });
    await employees.createEmployee(create(CreateEmployeeRequestSchema, { projectId, name: "Lookup Counter", email: "lookup.counter@example.com", role: "Engineer", department: "Platform", status: EmployeeStatus.ACTIVE }));
    expect(lookups).toEqual([projectId]);
    await employees.queryEmployees(query("Lookup Counter"));
    expect(lookups).toEqual([projectId]);
    await employees.queryEmployees(query("nobody-by-this-name"));
    expect(lookups).toEqual([projectId, projectId]);
  });
});

describe("keyword search index", () => {
  it("the trigram index of migration 0006 matches the engine's search document, so the planner can use it", async () => {
    const [offered] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from pg_available_extensions where name = 'pg_trgm'`;
    expect(offered?.n, "this server offers no pg_trgm: nothing to check").toBe(1);
    expect(employeeListSpec.searchable).toEqual(["name", "email", "role", "department"]);
    const publicId = (await api.client(ProjectService, "connect-binary").createProject({ name: "Big search", timezone: "UTC", environment: "live" })).project!.id;
    const [project] = await api.db.sql<{ id: string }[]>`select id from altalune_projects where public_id = ${publicId}`;
    // Enough rows for a scan to cost more than the index, as in a real project.
    await api.db.sql`
      insert into altalune_example_employees (project_id, public_id, name, email, role, department)
      select ${project!.id}, substr(md5(g::text), 1, 14), 'Person ' || g, 'p' || g || '@corp.io', 'Engineer', 'Platform'
      from generate_series(1, 5000) g`;
    // As autovacuum would: merge GIN's pending list and refresh statistics.
    await api.db.sql`vacuum analyze altalune_example_employees`;
    const [plan] = await api.db.sql.unsafe<{ "QUERY PLAN": string }[]>(
      `explain (format text) select count(*) from altalune_example_employees
       where project_id = ${Number(project!.id)} and ${searchDocumentSql(employeeListSpec.searchable)} ilike '%p4242@%'`,
    ).then((rows) => [rows.map((r) => r["QUERY PLAN"]).join("\n")]);
    expect(plan).toMatch(/Bitmap Index Scan on altalune_example_employees_p\d+_expr_idx/);
  });
});
