import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createProjectPartitions,
  defaultLocksPerBatch,
  dropProjectPartitions,
  ensureAllPartitions,
  partitionLockCosts,
  partitionName,
  partitionedTables,
  planPartitionBatches,
  projectIdLiteral,
  type PartitionLockCost,
  type PartitionTarget,
} from "./partitions.js";
import { observePool } from "./pool-observers.js";
import type { Queryable } from "./pool.js";
import { createTestDatabase, type TestDatabase } from "./testing.js";

let db: TestDatabase;

/** Partitions of `parent`, by name. */
async function partitionsOf(sql: Queryable, parent: string): Promise<string[]> {
  const rows = await sql<{ relname: string }[]>`
    select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = to_regclass(${parent}) order by c.relname`;
  return rows.map((r) => r.relname);
}

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  await db.sql.unsafe(`
    create table orders (
      project_id bigint not null, id bigint not null, replaces_id bigint,
      primary key (project_id, id),
      foreign key (project_id, replaces_id) references orders (project_id, id)
    ) partition by list (project_id);
    create table order_lines (
      project_id bigint not null, order_id bigint not null, line int not null,
      primary key (project_id, order_id, line),
      foreign key (project_id, order_id) references orders (project_id, id) on delete cascade
    ) partition by list (project_id);
    -- Not per-project: a different column, other strategies, an expression key.
    create table by_tenant (tenant_id bigint not null) partition by list (tenant_id);
    create table by_range (project_id bigint not null) partition by range (project_id);
    create table by_hash (project_id bigint not null) partition by hash (project_id);
    create table by_expr (project_id bigint not null) partition by list ((project_id + 0));
    create table plain (project_id bigint not null);
    -- A sub-partitioned partition is not a top-level table of its own.
    create table events (project_id bigint not null, kind text not null) partition by list (project_id);
    create table events_special partition of events for values in (999) partition by list (project_id);
    create schema other;
    create table other.elsewhere (project_id bigint not null) partition by list (project_id);
  `);
});

afterAll(async () => {
  await db?.drop();
});

describe("partitionedTables", () => {
  it("finds only top-level tables of the current schema partitioned by list on project_id", async () => {
    expect(await partitionedTables(db.sql)).toEqual(["events", "order_lines", "orders"]);
  });
});

describe("projectIdLiteral", () => {
  it("accepts positive integers in any form", () => {
    expect(projectIdLiteral(7)).toBe("7");
    expect(projectIdLiteral(7n)).toBe("7");
    expect(projectIdLiteral("9223372036854775807")).toBe("9223372036854775807");
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 60, "0", "-1", "1; drop table orders", " 1", "", "9223372036854775808", 0n])(
    "rejects %s",
    (bad) => {
      expect(() => projectIdLiteral(bad)).toThrow(RangeError);
    },
  );

  it("refuses partition names Postgres would truncate", () => {
    expect(() => partitionName("t".repeat(60), 12345)).toThrow(/exceeds 63 bytes/);
  });
});

describe("createProjectPartitions / dropProjectPartitions", () => {
  it("creates one partition per table, idempotently, inside the caller's transaction", async () => {
    const created = await db.sql.begin(async (tx) => {
      const names = await createProjectPartitions(tx, 1n);
      await tx`insert into orders values (1, 10, null)`;
      await tx`insert into order_lines values (1, 10, 1)`;
      return names;
    });
    expect(created).toEqual(["events_p1", "order_lines_p1", "orders_p1"]);
    expect(await partitionsOf(db.sql, "orders")).toEqual(["orders_p1"]);
    expect(await createProjectPartitions(db.sql, "1")).toEqual(created);
    expect(await db.sql`select count(*)::int as n from order_lines_p1`).toEqual([{ n: 1 }]);
  });

  it("leaves nothing behind when the caller's transaction rolls back", async () => {
    await expect(
      db.sql.begin(async (tx) => {
        await createProjectPartitions(tx, 2);
        throw new Error("project insert failed");
      }),
    ).rejects.toThrow("project insert failed");
    expect(await partitionsOf(db.sql, "orders")).toEqual(["orders_p1"]);
  });

  it("drops partitions of tables that foreign keys reference, including self-references", async () => {
    await createProjectPartitions(db.sql, 3);
    // Rows referencing another table's partition and their own partition.
    await db.sql`insert into orders values (3, 30, null), (3, 31, 30)`;
    await db.sql`insert into order_lines values (3, 30, 1), (3, 31, 1)`;
    expect(await db.sql.begin((tx) => dropProjectPartitions(tx, 3))).toEqual([
      "events_p3",
      "order_lines_p3",
      "orders_p3",
    ]);
    expect(await partitionsOf(db.sql, "orders")).toEqual(["orders_p1"]);
    expect(await partitionsOf(db.sql, "order_lines")).toEqual(["order_lines_p1"]);
    // Idempotent.
    await dropProjectPartitions(db.sql, 3);
  });

  it("validates the project id before building SQL", async () => {
    await expect(createProjectPartitions(db.sql, "1) ; drop table orders; --")).rejects.toThrow(RangeError);
    await expect(dropProjectPartitions(db.sql, -5)).rejects.toThrow(RangeError);
  });
});

describe("ensureAllPartitions", () => {
  it("is a no-op while altalune_projects does not exist", async () => {
    expect(await ensureAllPartitions(db.sql)).toEqual([]);
  });

  it("creates the missing partitions of every project", async () => {
    await db.sql.unsafe(`
      create table altalune_projects (id bigint primary key);
      insert into altalune_projects values (1), (4), (5);
    `);
    // Simulate a migration that adds a partitioned table after projects exist.
    await db.sql.unsafe(`create table notes (project_id bigint not null, body text) partition by list (project_id)`);

    const created = await ensureAllPartitions(db.sql);
    expect(created.sort()).toEqual(
      [
        "events_p4",
        "events_p5",
        "notes_p1",
        "notes_p4",
        "notes_p5",
        "order_lines_p4",
        "order_lines_p5",
        "orders_p4",
        "orders_p5",
      ].sort(),
    );
    expect(await partitionsOf(db.sql, "notes")).toEqual(["notes_p1", "notes_p4", "notes_p5"]);
    expect(await ensureAllPartitions(db.sql)).toEqual([]);
  });
});

describe("planPartitionBatches", () => {
  const costs = new Map<string, PartitionLockCost>([
    ["a", { perPartition: 10, perBatch: 5 }],
    ["b", { perPartition: 4, perBatch: 20 }],
  ]);
  const estimate = (batch: readonly PartitionTarget[]) =>
    batch.reduce((n, t) => n + costs.get(t.table)!.perPartition, 0) +
    [...new Set(batch.map((t) => t.table))].reduce((n, table) => n + costs.get(table)!.perBatch, 0);
  const targets: PartitionTarget[] = [
    ...Array.from({ length: 25 }, (_, i) => ({ table: "a", projectId: String(i + 1) })),
    ...Array.from({ length: 25 }, (_, i) => ({ table: "b", projectId: String(i + 1) })),
  ];

  it("keeps every batch within the lock budget and every partition in order, once", () => {
    const batches = planPartitionBatches(targets, costs, 60);
    expect(batches.flat()).toEqual(targets);
    for (const batch of batches) expect(estimate(batch)).toBeLessThanOrEqual(60);
    // Full batches: none could have taken the next partition.
    for (let i = 0; i + 1 < batches.length; i++) {
      expect(estimate([...batches[i]!, batches[i + 1]![0]!])).toBeGreaterThan(60);
    }
  });

  it("still makes progress when one partition exceeds the budget", () => {
    expect(planPartitionBatches(targets.slice(0, 3), costs, 1)).toEqual(targets.slice(0, 3).map((t) => [t]));
  });

  it("refuses a table it has no cost for", () => {
    expect(() => planPartitionBatches([{ table: "c", projectId: "1" }], costs, 60)).toThrow(/no lock cost/);
  });
});

describe("ensureAllPartitions on the migrated schema", () => {
  let migrated: TestDatabase;

  beforeAll(async () => {
    migrated = await createTestDatabase();
  });

  afterAll(async () => {
    await migrated?.drop();
  });

  async function addProjects(count: number): Promise<void> {
    await migrated.sql`
      insert into altalune_projects (public_id, name, timezone, environment)
      select substr(md5(random()::text), 1, 14), 'Tenant ' || substr(md5(random()::text), 1, 12), 'UTC', 'live'
      from generate_series(1, ${count})`;
  }

  it("estimates at least the locks a batch really holds until commit", async () => {
    await addProjects(4);
    const tables = await partitionedTables(migrated.sql);
    const costs = await partitionLockCosts(migrated.sql, tables);
    const { held, created } = await migrated.sql.begin(async (tx) => {
      const names = await ensureAllPartitions(tx, { maxLocksPerBatch: Number.MAX_SAFE_INTEGER });
      const [row] = await tx<{ n: number }[]>`select count(*)::int as n from pg_locks where pid = pg_backend_pid()`;
      return { held: row!.n, created: names };
    });
    expect(created.length).toBeGreaterThanOrEqual(4 * tables.length);
    const estimated = created.reduce((n, name) => n + costs.get(name.replace(/_p[0-9]+$/, ""))!.perPartition, 0) +
      tables.reduce((n, table) => n + costs.get(table)!.perBatch, 0);
    expect(held).toBeLessThanOrEqual(estimated);
  });

  it("provisions 300 projects in batches within the lock budget, and a second run is a no-op", async () => {
    const before = new Set((await migrated.sql<{ id: string }[]>`select id::text as id from altalune_projects`).map((r) => r.id));
    await addProjects(300);
    const tables = await partitionedTables(migrated.sql);
    expect(tables).toEqual(["altalune_example_employees", "altalune_project_api_keys"]);
    const ddl: string[] = [];
    const stop = observePool(migrated.sql, (_kind, _seconds, ok, detail) => {
      if (ok && detail.text?.startsWith("create table")) ddl.push(detail.text);
    });
    let created: string[];
    try {
      created = await ensureAllPartitions(migrated.sql);
    } finally {
      stop();
    }
    const projects = await migrated.sql<{ id: string }[]>`select id::text as id from altalune_projects`;
    const added = projects.filter(({ id }) => !before.has(id));
    expect(added).toHaveLength(300);
    const expected = tables.flatMap((table) => added.map(({ id }) => partitionName(table, id))).sort();
    expect([...created].sort()).toEqual(expected);
    for (const table of tables) {
      expect(await partitionsOf(migrated.sql, table)).toEqual(projects.map(({ id }) => partitionName(table, id)).sort());
    }
    // One round trip per batch, each within the budget: far fewer statements than partitions.
    const costs = await partitionLockCosts(migrated.sql, tables);
    const budget = await defaultLocksPerBatch(migrated.sql);
    expect(ddl.length).toBeGreaterThan(1);
    expect(ddl.length).toBeLessThan(created.length / 4);
    for (const text of ddl) {
      const names = [...text.matchAll(/create table if not exists "([a-z_]+)_p[0-9]+"/g)].map((m) => m[1]!);
      const estimated = names.reduce((n, t) => n + costs.get(t)!.perPartition, 0) +
        [...new Set(names)].reduce((n, t) => n + costs.get(t)!.perBatch, 0);
      expect(names.length === 1 || estimated <= budget).toBe(true);
    }
    expect(ddl.flatMap((text) => [...text.matchAll(/"([a-z_]+_p[0-9]+)"/g)].map((m) => m[1]!)).sort()).toEqual(expected);

    expect(await ensureAllPartitions(migrated.sql)).toEqual([]);
    for (const table of tables) expect((await partitionsOf(migrated.sql, table)).length).toBe(projects.length);
  });
});
