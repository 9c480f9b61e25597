import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineListSpec, escapeLikePattern, runListQuery, type ListQuery, type ListSpecInput } from "./list-query.js";
import type { Sql } from "./pool.js";
import { createTestDatabase } from "./testing.js";

interface FixtureRow {
  id: string;
  name: string;
  description: string | null;
  category: string | null;
  active: boolean;
  expires_at: Date | null;
  created_at: Date;
}

interface ScopedRow {
  id: string;
  name: string;
  region: string | null;
}

type FixtureInput = [
  id: number,
  name: string,
  description: string | null,
  category: string | null,
  active: boolean,
  expiresInDays: number | null,
];

// created_at is 2024-01-<id>, so it orders like id.
const FIXTURE: readonly FixtureInput[] = [
  [1, "Alpha", "first row", "red", true, 100],
  [2, "beta", "50% off", "red", true, 5],
  [3, "Gamma", "500 units", "blue", false, 100],
  [4, "a_b", null, "blue", true, null],
  [5, "axb", "nothing here", "green", false, -1],
  [6, "back\\slash", null, null, true, null],
  [7, "backxslash", "x", "green", true, null],
  [8, "Delta", "alpha in description", "red", false, -10],
  [9, "same", "twin", "blue", true, null],
  [10, "same", "twin", "blue", true, null],
];
const ALL_IDS = FIXTURE.map(([id]) => String(id));

const fixtureSpecInput: ListSpecInput = {
  from: "list_fixture",
  columns: ["id", "name", "description", "category", "active", "expires_at", "created_at"],
  searchable: ["name", "description"],
  filters: {
    category: { column: "category" },
    categories: { column: "category" },
    name: { column: "name" },
    active: { kind: "boolean", column: "active" },
    // Mirrors the API keys' combined status: spec-owned SQL, values ORed.
    status: {
      kind: "computed",
      values: {
        active: (sql) => sql`active and (expires_at is null or expires_at > now() + make_interval(days => ${10}))`,
        expiring_soon: (sql) =>
          sql`active and expires_at > now() and expires_at <= now() + make_interval(days => ${10})`,
        inactive: (sql) => sql`not active and (expires_at is null or expires_at > now())`,
        expired: (sql) => sql`expires_at <= now()`,
      },
    },
  },
  sortable: { name: "name", category: "category", createdAt: "created_at", expiresAt: "expires_at", id: "id" },
  defaultSort: { column: "name", order: "asc" },
  // Deliberately not the default sort's column, so the tests tell them apart.
  unknownSortFallback: "created_at",
  tieBreaker: "id",
  catalog: {
    statuses: { values: ["active", "expiring_soon", "inactive", "expired"] },
    categories: { distinct: "category" },
  },
};
const fixtureList = defineListSpec(fixtureSpecInput);
const fixtureListWithoutDistinct = defineListSpec({
  ...fixtureSpecInput,
  catalog: { statuses: { values: ["active"] } },
});

const scopedListInput = (): ListSpecInput => ({
  from: "list_scoped",
  scope: ["project_id"],
  columns: ["id", "name", "region"],
  searchable: ["name"],
  filters: { region: { column: "region" } },
  sortable: { name: "name", id: "id" },
  defaultSort: { column: "id", order: "asc" },
  unknownSortFallback: "id",
  tieBreaker: "id",
  catalog: { regions: { distinct: "region" } },
});
const scopedList = defineListSpec(scopedListInput());

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = db.sql;
  await sql`
    create table list_fixture (
      id          bigint primary key,
      name        text not null,
      description text,
      category    text,
      active      boolean not null,
      expires_at  timestamptz,
      created_at  timestamptz not null
    )`;
  for (const [id, name, description, category, active, expiresInDays] of FIXTURE) {
    await sql`
      insert into list_fixture (id, name, description, category, active, expires_at, created_at)
      values (${id}, ${name}, ${description}, ${category}, ${active},
              now() + make_interval(days => ${expiresInDays}::int),
              ${`2024-01-${String(id).padStart(2, "0")}T00:00:00Z`})`;
  }
  await sql`
    create table list_scoped (
      project_id bigint not null,
      id         bigint not null,
      name       text not null,
      region     text,
      primary key (project_id, id)
    ) partition by list (project_id)`;
  await sql`create table list_scoped_p1 partition of list_scoped for values in (1)`;
  await sql`create table list_scoped_p2 partition of list_scoped for values in (2)`;
  await sql`
    insert into list_scoped (project_id, id, name, region) values
      (1, 1, 'one-a', 'eu'), (1, 2, 'one-b', 'us'),
      (2, 3, 'two-a', 'apac'), (2, 4, 'two-b', 'eu'), (2, 5, 'two-c', null)`;
});

afterAll(async () => {
  await db?.drop();
});

function q(overrides: Partial<ListQuery> = {}): ListQuery {
  return { page: 1, pageSize: 100, ...overrides };
}

async function ids(query: ListQuery): Promise<string[]> {
  const result = await runListQuery<FixtureRow>(sql, fixtureList, query);
  return result.rows.map((r) => r.id);
}

const byId = { field: "id", order: "asc" } as const;

describe("keyword", () => {
  it.each([
    { keyword: "50%", expected: ["2"], why: "% is literal: 500 must not match" },
    { keyword: "%", expected: ["2"], why: "a lone % is not a wildcard" },
    { keyword: "a_b", expected: ["4"], why: "_ is literal: axb must not match" },
    { keyword: "_", expected: ["4"], why: "a lone _ is not a wildcard" },
    { keyword: "\\", expected: ["6"], why: "a backslash is literal, not an escape" },
    { keyword: "back\\slash", expected: ["6"], why: "backslash inside a word" },
    { keyword: "ALPHA", expected: ["1", "8"], why: "case-insensitive, name OR description" },
    { keyword: "first", expected: ["1"], why: "description only" },
    { keyword: "  gamma  ", expected: ["3"], why: "trimmed" },
    { keyword: "", expected: ALL_IDS, why: "empty adds no condition" },
    { keyword: "   ", expected: ALL_IDS, why: "blank adds no condition" },
    { keyword: "zzz", expected: [], why: "no match" },
  ])("$keyword → $expected ($why)", async ({ keyword, expected }) => {
    expect(await ids(q({ keyword, sort: byId }))).toEqual(expected);
  });

  it("escapes LIKE metacharacters", () => {
    expect(escapeLikePattern("50%_a\\b")).toBe("50\\%\\_a\\\\b");
  });

  it("combines with filters (AND)", async () => {
    expect(await ids(q({ keyword: "alpha", filters: { active: ["false"] }, sort: byId }))).toEqual(["8"]);
  });
});

describe("filters", () => {
  it.each<{ name: string; filters: Record<string, string[]>; expected: string[] }>([
    { name: "single value", filters: { category: ["green"] }, expected: ["5", "7"] },
    { name: "values are IN", filters: { category: ["green", "blue"] }, expected: ["3", "4", "5", "7", "9", "10"] },
    { name: "value case-insensitive", filters: { category: ["GREEN"] }, expected: ["5", "7"] },
    { name: "column case-insensitive", filters: { name: ["alpha", "DELTA"] }, expected: ["1", "8"] },
    { name: "alias key", filters: { categories: ["red"] }, expected: ["1", "2", "8"] },
    { name: "keys are ANDed", filters: { category: ["red"], active: ["true"] }, expected: ["1", "2"] },
    { name: "two aliases, both applied", filters: { category: ["red"], categories: ["blue"] }, expected: [] },
    { name: "zero values ignored", filters: { category: [] }, expected: ALL_IDS },
    { name: "unknown key ignored", filters: { colour: ["red"] }, expected: ALL_IDS },
    { name: "prototype key ignored", filters: { constructor: ["x"], toString: ["y"] }, expected: ALL_IDS },
    { name: "no matching value", filters: { category: ["purple"] }, expected: [] },
    { name: "boolean true", filters: { active: ["true"] }, expected: ["1", "2", "4", "6", "7", "9", "10"] },
    { name: "boolean 1", filters: { active: ["1"] }, expected: ["1", "2", "4", "6", "7", "9", "10"] },
    { name: "boolean TRUE", filters: { active: ["TRUE"] }, expected: ["1", "2", "4", "6", "7", "9", "10"] },
    { name: "boolean false", filters: { active: ["false"] }, expected: ["3", "5", "8"] },
    { name: "boolean anything else is false", filters: { active: ["yes"] }, expected: ["3", "5", "8"] },
    { name: "boolean both", filters: { active: ["true", "0"] }, expected: ALL_IDS },
    { name: "computed", filters: { status: ["expired"] }, expected: ["5", "8"] },
    { name: "computed, other value", filters: { status: ["expiring_soon"] }, expected: ["2"] },
    { name: "computed values are ORed", filters: { status: ["expired", "inactive"] }, expected: ["3", "5", "8"] },
    { name: "computed case-insensitive", filters: { status: ["ACTIVE"] }, expected: ["1", "4", "6", "7", "9", "10"] },
    { name: "computed unknown value ignored", filters: { status: ["bogus", "expiring_soon"] }, expected: ["2"] },
    { name: "computed only unknown values", filters: { status: ["bogus"] }, expected: ALL_IDS },
    { name: "computed AND other key", filters: { status: ["expired"], category: ["green"] }, expected: ["5"] },
  ])("$name", async ({ filters, expected }) => {
    expect(await ids(q({ filters, sort: byId }))).toEqual(expected);
  });
});

describe("sort", () => {
  const ascending = ALL_IDS;
  const descending = [...ALL_IDS].reverse();
  it.each<{ name: string; sort: ListQuery["sort"]; expected: string[] }>([
    { name: "camelCase field", sort: { field: "createdAt", order: "desc" }, expected: descending },
    { name: "snake_case field", sort: { field: "created_at", order: "asc" }, expected: ascending },
    { name: "snake_case field, desc", sort: { field: "created_at", order: "desc" }, expected: descending },
    { name: "unknown field → fallback, asc", sort: { field: "bogus", order: "asc" }, expected: ascending },
    { name: "unknown field → fallback, desc", sort: { field: "bogus", order: "desc" }, expected: descending },
    { name: "prototype field → fallback", sort: { field: "__proto__", order: "desc" }, expected: descending },
    // NULLs sort last ascending (PostgreSQL's default); ties are broken by id.
    {
      name: "column with ties, tie-breaker",
      sort: { field: "category", order: "asc" },
      expected: ["3", "4", "9", "10", "5", "7", "1", "2", "8", "6"],
    },
    {
      name: "tie-breaker follows the direction",
      sort: { field: "category", order: "desc" },
      expected: ["6", "8", "2", "1", "7", "5", "10", "9", "4", "3"],
    },
  ])("$name", async ({ sort, expected }) => {
    expect(await ids(q({ sort }))).toEqual(expected);
  });

  // Only lowercase letters, so the expected order holds under any collation.
  const plainNames = { name: ["axb", "backxslash", "beta", "same"] };

  it("uses the default sort without sorting, with the tie-breaker", async () => {
    expect(await ids(q({ filters: plainNames }))).toEqual(["5", "7", "2", "9", "10"]);
  });

  it("treats a blank field as no sort", async () => {
    const blank = { field: " ", order: "desc" } as const;
    expect(await ids(q({ filters: plainNames, sort: blank }))).toEqual(["5", "7", "2", "9", "10"]);
  });

  it("sorts by a spec field descending", async () => {
    const byNameDesc = { field: "name", order: "desc" } as const;
    expect(await ids(q({ filters: plainNames, sort: byNameDesc }))).toEqual(["10", "9", "2", "7", "5"]);
  });

  it.each(["asc", "desc"] as const)("pages through ties without gaps or repeats (%s)", async (order) => {
    const sort = { field: "category", order };
    const whole = await ids(q({ sort }));
    const paged: string[] = [];
    for (let page = 1; page <= ALL_IDS.length; page++) {
      paged.push(...(await ids({ page, pageSize: 1, sort })));
    }
    expect(paged).toEqual(whole);
    expect([...paged].sort()).toEqual([...ALL_IDS].sort());
  });
});

describe("pagination", () => {
  const red = { category: ["red"] };
  it.each<{ name: string; query: ListQuery; rows: string[]; rowCount: number; pageCount: number }>([
    { name: "first page", query: { page: 1, pageSize: 4 }, rows: ["1", "2", "3", "4"], rowCount: 10, pageCount: 3 },
    { name: "last, partial page", query: { page: 3, pageSize: 4 }, rows: ["9", "10"], rowCount: 10, pageCount: 3 },
    { name: "exactly divisible", query: { page: 2, pageSize: 5 }, rows: ["6", "7", "8", "9", "10"], rowCount: 10, pageCount: 2 },
    { name: "page past the end", query: { page: 3, pageSize: 5 }, rows: [], rowCount: 10, pageCount: 2 },
    { name: "far past the end", query: { page: 1000, pageSize: 10 }, rows: [], rowCount: 10, pageCount: 1 },
    { name: "page size 1", query: { page: 10, pageSize: 1 }, rows: ["10"], rowCount: 10, pageCount: 10 },
    { name: "page larger than the total", query: { page: 1, pageSize: 1000 }, rows: ALL_IDS, rowCount: 10, pageCount: 1 },
    { name: "no rows", query: { page: 1, pageSize: 10, keyword: "zzz" }, rows: [], rowCount: 0, pageCount: 0 },
    { name: "no rows, later page", query: { page: 3, pageSize: 10, keyword: "zzz" }, rows: [], rowCount: 0, pageCount: 0 },
    { name: "filtered total", query: { page: 1, pageSize: 2, filters: red }, rows: ["1", "2"], rowCount: 3, pageCount: 2 },
  ])("$name", async ({ query, rows, rowCount, pageCount }) => {
    const result = await runListQuery<FixtureRow>(sql, fixtureList, { sort: byId, ...query });
    expect(result.rows.map((r) => r.id)).toEqual(rows);
    expect(result.rowCount).toBe(rowCount);
    expect(result.pageCount).toBe(pageCount);
  });

  it.each([
    { page: 0, pageSize: 10 },
    { page: 1, pageSize: 0 },
    { page: 1.5, pageSize: 10 },
    { page: 1, pageSize: Number.NaN },
  ])("rejects page $page / size $pageSize", async (query) => {
    await expect(runListQuery(sql, fixtureList, query)).rejects.toThrow(RangeError);
  });
});

describe("rows", () => {
  it("keep the selected columns and their types", async () => {
    const { rows } = await runListQuery<FixtureRow>(sql, fixtureList, q({ sort: byId }));
    const [first, , , fourth] = rows;
    expect(Object.keys(first ?? {}).sort()).toEqual(fixtureSpecInput.columns.toSorted());
    expect(first?.created_at).toBeInstanceOf(Date);
    expect(first?.created_at.toISOString()).toBe("2024-01-01T00:00:00.000Z");
    expect(first?.expires_at).toBeInstanceOf(Date);
    expect(first?.active).toBe(true);
    expect(first?.name).toBe("Alpha");
    expect(fourth?.description).toBeNull();
    expect(fourth?.expires_at).toBeNull();
  });

  it("do not carry the columns the engine adds for sorting", async () => {
    const narrow = defineListSpec({ ...fixtureSpecInput, columns: ["name"], catalog: {} });
    const newestFirst = q({ sort: { field: "createdAt", order: "desc" } });
    const { rows } = await runListQuery<{ name: string }>(sql, narrow, newestFirst);
    expect(rows[0]).toEqual({ name: "same" });
    expect(rows.every((r) => Object.keys(r).length === 1)).toBe(true);
  });
});

describe("catalog", () => {
  it("returns constants and sorted distinct non-null values", async () => {
    const { filters } = await runListQuery(sql, fixtureList, q());
    expect(filters).toEqual({
      statuses: ["active", "expiring_soon", "inactive", "expired"],
      categories: ["blue", "green", "red"],
    });
  });

  it("ignores the query's keyword and filters", async () => {
    const narrowed = q({ keyword: "zzz", filters: { category: ["red"] } });
    const { filters, rowCount } = await runListQuery(sql, fixtureList, narrowed);
    expect(rowCount).toBe(0);
    expect(filters["categories"]).toEqual(["blue", "green", "red"]);
  });
});

describe("indexed distinct catalog (loose index scan)", () => {
  const looseList = defineListSpec({ ...scopedListInput(), catalog: { regions: { distinct: "region", indexed: true } } });

  it.each([1, 2])("returns exactly what the plain distinct returns, for project %s", async (projectId) => {
    await sql`create index if not exists list_scoped_region on list_scoped (project_id, region)`;
    const plain = await runListQuery(sql, scopedList, q(), { scope: { project_id: projectId } });
    const loose = await runListQuery(sql, looseList, q(), { scope: { project_id: projectId } });
    expect(loose.filters).toEqual(plain.filters);
  });

  it("walks the index instead of reading every row", async () => {
    await sql`insert into list_scoped (project_id, id, name, region)
      select 1, 100 + g, 'bulk', (array['eu', 'us', 'latam'])[1 + g % 3] from generate_series(1, 3000) g`;
    await sql`vacuum analyze list_scoped`;
    const sent: Array<{ query: string; params: unknown[] }> = [];
    const spy = postgres(db.url, { max: 1, debug: (_c, query, params) => sent.push({ query, params: [...params] }) });
    try {
      const result = await runListQuery(spy, looseList, q(), { scope: { project_id: 1 } });
      expect(result.filters).toEqual({ regions: ["eu", "latam", "us"] });
      // The engine's own catalog statement, explained with its own parameters.
      const catalog = sent.find((s) => s.query.includes("with recursive walk"));
      if (catalog === undefined) throw new Error("no catalog statement was sent");
      const plan = await sql.unsafe<{ "QUERY PLAN": string }[]>(`explain analyze ${catalog.query}`, catalog.params as never[]);
      const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).toMatch(/Index Only Scan using list_scoped_p1_project_id_region_idx/);
      expect(text).not.toMatch(/Seq Scan/);
    } finally {
      await spy.end();
      await sql`delete from list_scoped where id > 100`;
    }
  });
});

describe("scope", () => {
  it.each<{ projectId: bigint | number | string; rows: string[]; regions: string[] }>([
    { projectId: 1n, rows: ["1", "2"], regions: ["eu", "us"] },
    { projectId: 2, rows: ["3", "4", "5"], regions: ["apac", "eu"] },
    { projectId: "2", rows: ["3", "4", "5"], regions: ["apac", "eu"] },
  ])("project $projectId sees only its rows and catalog", async ({ projectId, rows, regions }) => {
    const result = await runListQuery<ScopedRow>(sql, scopedList, q(), { scope: { project_id: projectId } });
    expect(result.rows.map((r) => r.id)).toEqual(rows);
    expect(result.rowCount).toBe(rows.length);
    expect(result.filters).toEqual({ regions });
  });

  it("applies keyword and filters within the scope", async () => {
    const other = await runListQuery<ScopedRow>(sql, scopedList, q({ keyword: "two" }), { scope: { project_id: 1n } });
    expect(other.rowCount).toBe(0);
    const eu = q({ filters: { region: ["eu"] } });
    const own = await runListQuery<ScopedRow>(sql, scopedList, eu, { scope: { project_id: 2n } });
    expect(own.rows.map((r) => r.id)).toEqual(["4"]);
  });

  it("pages within the scope, past the end too", async () => {
    const scope = { scope: { project_id: 2 } };
    const second = await runListQuery<ScopedRow>(sql, scopedList, q({ page: 2, pageSize: 2 }), scope);
    expect(second.rows.map((r) => r.id)).toEqual(["5"]);
    expect(second.rowCount).toBe(3);
    const past = await runListQuery<ScopedRow>(sql, scopedList, q({ page: 3, pageSize: 2 }), scope);
    expect(past.rows).toEqual([]);
    expect(past.rowCount).toBe(3);
    expect(past.pageCount).toBe(2);
  });

  it("reads the matching rows once, in the scope's partition only", async () => {
    const sent: Array<{ query: string; params: unknown[] }> = [];
    const spy = postgres(db.url, { max: 1, debug: (_c, query, params) => sent.push({ query, params: [...params] }) });
    try {
      const result = await runListQuery<ScopedRow>(spy, scopedList, q({ keyword: "two", pageSize: 1 }), { scope: { project_id: 2 } });
      expect(result.rows.map((r) => r.id)).toEqual(["3"]);
      expect(result.rowCount).toBe(3);
      const page = sent.find((s) => s.query.includes("over ()"));
      if (page === undefined) throw new Error("no page statement was sent");
      const plan = await sql.unsafe<{ "QUERY PLAN": string }[]>(`explain (costs off) ${page.query}`, page.params as never[]);
      const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
      // One scan evaluates the keyword (the total and the page come from it); the page's rows are read back by key.
      expect(text.match(/~~\*/g)).toHaveLength(1);
      expect(text).toMatch(/list_scoped_p2/);
      expect(text).not.toMatch(/list_scoped_p1/);
    } finally {
      await spy.end();
    }
  });

  it("requires every scope column", async () => {
    await expect(runListQuery(sql, scopedList, q())).rejects.toThrow(/scope project_id is required/);
    await expect(runListQuery(sql, scopedList, q(), { scope: {} })).rejects.toThrow(TypeError);
  });

  it("rejects scope keys the spec does not declare", async () => {
    await expect(runListQuery(sql, scopedList, q(), { scope: { project_id: 1n, name: "x" } })).rejects.toThrow(
      /not a scope column/,
    );
    await expect(runListQuery(sql, fixtureList, q(), { scope: { id: 1n } })).rejects.toThrow(/not a scope column/);
  });
});

describe("visibleOnly", () => {
  it.each<{ visible: string[]; rows: string[] }>([
    { visible: ["1", "3", "9"], rows: ["1", "3", "9"] },
    { visible: ["2", "no-such-id"], rows: ["2"] },
    { visible: [], rows: [] },
  ])("shows only rows whose column is in $visible (rows, total, catalog)", async ({ visible, rows }) => {
    const result = await runListQuery<FixtureRow>(sql, fixtureList, q({ sort: { field: "id", order: "asc" } }), {
      visibleOnly: { column: "id", values: visible },
    });
    expect(result.rows.map((r) => r.id).sort()).toEqual([...rows].sort());
    expect(result.rowCount).toBe(rows.length);
    const categories = FIXTURE.filter(([id]) => rows.includes(String(id))).map(([, , , c]) => c);
    expect(result.filters["categories"]).toEqual([...new Set(categories.filter((c) => c !== null))].sort());
  });

  it("combines with the keyword", async () => {
    const result = await runListQuery<FixtureRow>(sql, fixtureList, q({ keyword: "twin" }), {
      visibleOnly: { column: "id", values: ["9", "1"] },
    });
    expect(result.rows.map((r) => r.id)).toEqual(["9"]);
  });

  it("refuses a column the spec does not select", async () => {
    await expect(runListQuery(sql, fixtureList, q(), { visibleOnly: { column: "secret", values: [] } })).rejects.toThrow(
      /not a column/,
    );
  });
});

describe("hostile input", () => {
  const hostile = `name; DROP TABLE list_fixture; --`;

  it.each<{ name: string; query: ListQuery; expected: string[] }>([
    { name: "sort field", query: q({ sort: { field: hostile, order: "desc" } }), expected: [...ALL_IDS].reverse() },
    { name: "filter key", query: q({ filters: { [hostile]: ["x"] }, sort: byId }), expected: ALL_IDS },
    { name: "filter value", query: q({ filters: { category: [`red'); DROP TABLE list_fixture; --`] } }), expected: [] },
    {
      name: "boolean value",
      query: q({ filters: { active: [`true; DROP TABLE list_fixture`] }, sort: byId }),
      expected: ["3", "5", "8"],
    },
    { name: "computed value", query: q({ filters: { status: [hostile] }, sort: byId }), expected: ALL_IDS },
    { name: "keyword", query: q({ keyword: `'; DROP TABLE list_fixture; --` }), expected: [] },
  ])("$name is never SQL", async ({ query, expected }) => {
    expect(await ids(query)).toEqual(expected);
    const [check] = await sql<{ exists: boolean; n: number }[]>`
      select to_regclass('list_fixture') is not null as exists, (select count(*)::int from list_fixture) as n`;
    expect(check).toEqual({ exists: true, n: FIXTURE.length });
  });
});

describe("defineListSpec", () => {
  it.each<{ name: string; patch: Partial<ListSpecInput> }>([
    { name: "table", patch: { from: "list_fixture; drop table x" } },
    { name: "three-part table", patch: { from: "a.b.c" } },
    { name: "column", patch: { columns: ["id", "name desc"] } },
    { name: "no columns", patch: { columns: [] } },
    { name: "reserved column", patch: { columns: ["__list_total"] } },
    { name: "searchable", patch: { searchable: ["lower(name)"] } },
    { name: "filter column", patch: { filters: { x: { column: "a b" } } } },
    { name: "sort column", patch: { sortable: { name: "name; --" } } },
    { name: "sort spellings collide", patch: { sortable: { createdAt: "created_at", created_at: "updated_at" } } },
    { name: "default sort", patch: { defaultSort: { column: "1", order: "asc" } } },
    { name: "tie-breaker", patch: { tieBreaker: "" } },
    { name: "catalog column", patch: { catalog: { x: { distinct: "x y" } } } },
  ])("rejects an invalid $name", ({ patch }) => {
    expect(() => defineListSpec({ ...fixtureSpecInput, ...patch })).toThrow(TypeError);
  });

  it("accepts a schema-qualified table", async () => {
    const qualified = defineListSpec({ ...fixtureSpecInput, from: "public.list_fixture", catalog: {} });
    expect((await runListQuery(sql, qualified, q())).rowCount).toBe(FIXTURE.length);
  });
});

describe("execution", () => {
  it("fetches rows and total in one statement, the distinct catalog in a second", async () => {
    const statements: string[] = [];
    const counted = postgres(db.url, {
      max: 2,
      onnotice: () => {},
      debug: (_connection, query) => {
        // The pool's own type lookup on connect is not ours.
        if (!query.includes("pg_catalog.pg_type")) statements.push(query);
      },
    });
    try {
      const one = await runListQuery(counted, fixtureListWithoutDistinct, q({ page: 2, pageSize: 3, keyword: "a" }));
      expect(one.rowCount).toBeGreaterThan(0);
      expect(statements).toHaveLength(1);

      statements.length = 0;
      await runListQuery(counted, fixtureList, q());
      expect(statements).toHaveLength(2);
    } finally {
      await counted.end();
    }
  });

  it("runs inside a transaction", async () => {
    const green = q({ filters: { category: ["green"] } });
    const result = await sql.begin((tx) => runListQuery<FixtureRow>(tx, fixtureList, green));
    expect(result.rows.map((r) => r.id)).toEqual(["5", "7"]);
    expect(result.filters["categories"]).toEqual(["blue", "green", "red"]);
  });
});
