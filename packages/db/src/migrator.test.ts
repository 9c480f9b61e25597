import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadMigrations, parseMigration } from "./migration-files.js";
import { migrateDown, migrateUp, migrationStatus } from "./migrator.js";
import { createPool, type Sql } from "./pool.js";
import { createTestDatabase, type TestDatabase } from "./testing.js";

/** Each test gets its own migrations directory; those touching a database get an empty one. */
let db: TestDatabase;
let dir: string;

async function write(name: string, text: string): Promise<void> {
  await writeFile(join(dir, name), text);
}

async function tableExists(sql: Sql, name: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`select to_regclass(${name}) is not null as ok`;
  return row?.ok ?? false;
}

const CREATE_A = `-- migrate:up
create table a (id int primary key);
create index a_id_idx on a (id);
-- migrate:down
drop table a;
`;
const CREATE_B = `-- migrate:up
create table b (id int primary key, a_id int references a (id));
-- migrate:down
drop table b;
`;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "altalune-migrations-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("parseMigration", () => {
  it("splits up and down parts", () => {
    expect(parseMigration("0001_x.sql", "-- header\n-- migrate:up\nselect 1;\n-- migrate:down\nselect 2;\n")).toEqual({
      up: "select 1;",
      down: "select 2;",
    });
  });

  it("accepts an empty down part", () => {
    expect(parseMigration("0001_x.sql", "-- migrate:up\nselect 1;\n")).toEqual({ up: "select 1;", down: "" });
  });

  it("rejects a file without an up marker, naming it", () => {
    expect(() => parseMigration("0007_broken.sql", "create table x ();")).toThrow(/0007_broken\.sql.*migrate:up/);
  });

  it("rejects SQL before the up marker and misordered or duplicate markers", () => {
    expect(() => parseMigration("0001_x.sql", "select 1;\n-- migrate:up\nselect 2;")).toThrow(/before/);
    expect(() => parseMigration("0001_x.sql", "-- migrate:down\n-- migrate:up\n")).toThrow(/before/);
    expect(() => parseMigration("0001_x.sql", "-- migrate:up\n-- migrate:up\n")).toThrow(/duplicate/);
  });
});

describe("loadMigrations", () => {
  it("sorts by file name, ignores non-SQL files and rejects badly named SQL files", async () => {
    await write("0002_b.sql", CREATE_B);
    await write("0001_a.sql", CREATE_A);
    await write("README.md", "not a migration");
    expect((await loadMigrations(dir)).map((m) => m.version)).toEqual(["0001_a", "0002_b"]);
    await write("create_c.sql", CREATE_A);
    await expect(loadMigrations(dir)).rejects.toThrow(/create_c\.sql/);
  });

  it("fails clearly when the directory does not exist", async () => {
    await expect(loadMigrations(join(dir, "missing"))).rejects.toThrow(/cannot read migrations directory/);
  });
});

describe("migrateUp / migrateDown / migrationStatus", () => {
  beforeEach(async () => {
    db = await createTestDatabase({ empty: true });
  });
  afterEach(async () => {
    await db.drop();
  });

  it("applies all pending migrations in order and records them", async () => {
    await write("0001_a.sql", CREATE_A);
    await write("0002_b.sql", CREATE_B);
    expect(await migrateUp(db.sql, { dir })).toEqual({ applied: ["0001_a", "0002_b"] });
    expect(await tableExists(db.sql, "b")).toBe(true);
    expect(await migrateUp(db.sql, { dir })).toEqual({ applied: [] });

    const status = await migrationStatus(db.sql, { dir });
    expect(status.map((s) => [s.version, s.applied, s.checksumMismatch, s.fileMissing])).toEqual([
      ["0001_a", true, false, false],
      ["0002_b", true, false, false],
    ]);
    expect(status[0]?.appliedAt).toBeInstanceOf(Date);
  });

  it("reports pending migrations before the tracking table exists", async () => {
    await write("0001_a.sql", CREATE_A);
    expect(await migrationStatus(db.sql, { dir })).toEqual([
      { version: "0001_a", applied: false, checksumMismatch: false, fileMissing: false },
    ]);
  });

  it("round-trips up → down → up", async () => {
    await write("0001_a.sql", CREATE_A);
    await write("0002_b.sql", CREATE_B);
    await migrateUp(db.sql, { dir });

    expect(await migrateDown(db.sql, { dir })).toEqual({ reverted: ["0002_b"] });
    expect(await tableExists(db.sql, "b")).toBe(false);
    expect(await tableExists(db.sql, "a")).toBe(true);
    expect((await migrationStatus(db.sql, { dir })).map((s) => s.applied)).toEqual([true, false]);

    expect(await migrateUp(db.sql, { dir })).toEqual({ applied: ["0002_b"] });
    expect(await migrateDown(db.sql, { dir, steps: 5 })).toEqual({ reverted: ["0002_b", "0001_a"] });
    expect(await tableExists(db.sql, "a")).toBe(false);
    expect(await migrateDown(db.sql, { dir })).toEqual({ reverted: [] });

    expect(await migrateUp(db.sql, { dir })).toEqual({ applied: ["0001_a", "0002_b"] });
  });

  it("rolls back a failing migration entirely and names the file", async () => {
    await write("0001_a.sql", CREATE_A);
    await write("0002_bad.sql", "-- migrate:up\ncreate table half (id int);\nselect * from no_such_table;\n");
    await expect(migrateUp(db.sql, { dir })).rejects.toThrow(/0002_bad\.sql \(up\) failed: .*no_such_table/);
    expect(await tableExists(db.sql, "a")).toBe(true);
    expect(await tableExists(db.sql, "half")).toBe(false);
    expect((await migrationStatus(db.sql, { dir })).map((s) => s.applied)).toEqual([true, false]);
    // The reserved connection must come back usable after the failed transaction.
    expect(await db.sql`select 1 as one`).toEqual([{ one: 1 }]);
  });

  it("refuses a pending file numbered below an applied one, applying nothing", async () => {
    await write("0001_a.sql", CREATE_A);
    await write("0003_c.sql", "-- migrate:up\ncreate table c (id int);\n-- migrate:down\ndrop table c;\n");
    await migrateUp(db.sql, { dir });
    // Added later with a lower number (e.g. from a branch merged late): it would run after 0003
    // here but before it on a fresh database, so the two schemas could differ.
    await write("0002_b.sql", CREATE_B);
    await write("0004_d.sql", "-- migrate:up\ncreate table d (id int);\n-- migrate:down\ndrop table d;\n");
    await expect(migrateUp(db.sql, { dir })).rejects.toThrow(/0002_b\.sql is pending but sorts before 0003_c, which is applied/);
    expect(await tableExists(db.sql, "b")).toBe(false);
    expect(await tableExists(db.sql, "d")).toBe(false);
  });

  it("refuses to run when an applied file was modified, applying nothing", async () => {
    await write("0001_a.sql", CREATE_A);
    await migrateUp(db.sql, { dir });
    await write("0001_a.sql", `${CREATE_A}\n-- an innocent-looking edit\n`);
    await write("0002_b.sql", CREATE_B);

    await expect(migrateUp(db.sql, { dir })).rejects.toThrow(/0001_a\.sql was modified after it was applied/);
    expect(await tableExists(db.sql, "b")).toBe(false);
    await expect(migrateDown(db.sql, { dir })).rejects.toThrow(/0001_a\.sql was modified/);

    const status = await migrationStatus(db.sql, { dir });
    expect(status.find((s) => s.version === "0001_a")?.checksumMismatch).toBe(true);
  });

  it("refuses to run when an applied migration's file is missing", async () => {
    await write("0001_a.sql", CREATE_A);
    await write("0002_b.sql", CREATE_B);
    await migrateUp(db.sql, { dir });
    await unlink(join(dir, "0001_a.sql"));
    await expect(migrateUp(db.sql, { dir })).rejects.toThrow(/0001_a.*missing/);
    expect((await migrationStatus(db.sql, { dir })).find((s) => s.version === "0001_a")).toMatchObject({
      applied: true,
      fileMissing: true,
    });
  });

  it("refuses to revert a migration without a down part, before touching anything", async () => {
    await write("0001_a.sql", CREATE_A);
    await write("0002_c.sql", "-- migrate:up\ncreate table c (id int);\n-- migrate:down\n-- nothing to undo\n");
    await migrateUp(db.sql, { dir });
    await expect(migrateDown(db.sql, { dir })).rejects.toThrow(/0002_c\.sql has no "-- migrate:down" part/);
    expect(await tableExists(db.sql, "c")).toBe(true);
    await expect(migrateDown(db.sql, { dir, steps: 0 })).rejects.toThrow(/steps/);
  });

  it("applies each file exactly once when two processes migrate concurrently", async () => {
    // The sleep keeps the first runner inside the lock long enough for the
    // second to queue on it.
    await write("0001_t.sql", "-- migrate:up\ncreate table t (n int);\nselect pg_sleep(0.3);\n-- migrate:down\ndrop table t;\n");
    await write("0002_row.sql", "-- migrate:up\ninsert into t values (1);\n-- migrate:down\ndelete from t;\n");
    await write("0003_row.sql", "-- migrate:up\ninsert into t values (2);\n-- migrate:down\ndelete from t where n = 2;\n");
    const a = createPool(db.url, { max: 2 });
    const b = createPool(db.url, { max: 2 });
    try {
      const results = await Promise.all([migrateUp(a, { dir }), migrateUp(b, { dir })]);
      const applied = results.flatMap((r) => r.applied).sort();
      expect(applied).toEqual(["0001_t", "0002_row", "0003_row"]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 3]);
      expect(await db.sql`select n from t order by n`).toEqual([{ n: 1 }, { n: 2 }]);
      const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from altalune_migrations`;
      expect(count?.n).toBe(3);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });
});

describe("the repository's migrations", () => {
  let migrated: TestDatabase;
  beforeAll(async () => {
    migrated = await createTestDatabase();
  });
  afterAll(async () => {
    await migrated?.drop();
  });

  it("are all applied to the cloned template", async () => {
    const status = await migrationStatus(migrated.sql);
    expect(status.filter((s) => !s.applied || s.checksumMismatch || s.fileMissing)).toEqual([]);
  });

  it("revert and re-apply cleanly, as far back as they have down parts", async () => {
    const migrations = await loadMigrations();
    const reversible: string[] = [];
    for (const m of [...migrations].reverse()) {
      if (!m.down.replace(/--[^\n]*/g, "").trim()) break;
      reversible.push(m.version);
    }
    if (reversible.length === 0) return;
    expect(await migrateDown(migrated.sql, { steps: reversible.length })).toEqual({ reverted: reversible });
    expect(await migrateUp(migrated.sql)).toEqual({ applied: [...reversible].reverse() });
  });
});
