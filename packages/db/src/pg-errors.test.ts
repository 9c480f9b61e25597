import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pg from "./pg-errors.js";
import { createTestDatabase, type TestDatabase } from "./testing.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  await db.sql.unsafe(`
    create table parent (id int primary key);
    create table child (
      id int primary key,
      parent_id int not null constraint fk_child_parent references parent (id),
      email text not null,
      age int constraint chk_child_age check (age >= 0),
      constraint ux_child_email unique (email)
    );
    insert into parent values (1);
    insert into child (id, parent_id, email, age) values (1, 1, 'a@example.com', 3);
  `);
});

afterAll(async () => {
  await db?.drop();
});

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  throw new Error("expected the statement to fail");
}

describe("classifyPgError", () => {
  it("classifies a unique violation with its constraint and table", async () => {
    const e = await failure(() => db.sql`insert into child (id, parent_id, email) values (2, 1, 'a@example.com')`);
    expect(pg.classifyPgError(e)).toMatchObject({
      kind: "unique_violation",
      code: "23505",
      constraint: "ux_child_email",
      table: "child",
    });
    expect(pg.isUniqueViolation(e)).toBe(true);
    expect(pg.isUniqueViolation(e, "ux_child_email")).toBe(true);
    expect(pg.isUniqueViolation(e, "other_constraint")).toBe(false);
    expect(pg.isForeignKeyViolation(e)).toBe(false);
  });

  it("classifies a foreign key violation", async () => {
    const e = await failure(() => db.sql`insert into child (id, parent_id, email) values (3, 99, 'b@example.com')`);
    expect(pg.classifyPgError(e)).toMatchObject({ kind: "foreign_key_violation", constraint: "fk_child_parent", table: "child" });
    expect(pg.isForeignKeyViolation(e, "fk_child_parent")).toBe(true);
  });

  it("classifies a check violation", async () => {
    const e = await failure(() => db.sql`insert into child (id, parent_id, email, age) values (4, 1, 'c@example.com', -1)`);
    expect(pg.classifyPgError(e)).toMatchObject({ kind: "check_violation", constraint: "chk_child_age", table: "child" });
    expect(pg.isCheckViolation(e, "chk_child_age")).toBe(true);
  });

  it("classifies a not-null violation with its column", async () => {
    const e = await failure(() => db.sql`insert into child (id, parent_id, email) values (5, 1, ${null})`);
    expect(pg.classifyPgError(e)).toMatchObject({ kind: "not_null_violation", column: "email", table: "child" });
    expect(pg.isNotNullViolation(e, "email")).toBe(true);
    expect(pg.isNotNullViolation(e, "parent_id")).toBe(false);
  });

  it("classifies invalid text input", async () => {
    const e = await failure(() => db.sql`select ${"not-a-uuid"}::uuid`);
    expect(pg.classifyPgError(e)).toMatchObject({ kind: "invalid_text", code: "22P02" });
    expect(pg.isInvalidTextRepresentation(e)).toBe(true);
  });

  it("reports other SQL errors as 'other'", async () => {
    const e = await failure(() => db.sql`select * from no_such_table`);
    expect(pg.classifyPgError(e)).toMatchObject({ kind: "other", code: "42P01" });
  });

  it("returns undefined for anything that is not a PostgresError", () => {
    expect(pg.classifyPgError(new Error("boom"))).toBeUndefined();
    expect(pg.classifyPgError("23505")).toBeUndefined();
    expect(pg.classifyPgError({ code: "23505" })).toBeUndefined();
    expect(pg.classifyPgError(undefined)).toBeUndefined();
    expect(pg.isUniqueViolation(new Error("duplicate"))).toBe(false);
  });
});

describe("violatedUniqueIndex", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    await db.sql.unsafe(`
      create table t_parted (project_id bigint not null, id bigint not null, email text not null) partition by list (project_id);
      create table t_parted_p1 partition of t_parted for values in (1);
      create unique index ux_t_parted_email on t_parted (project_id, lower(email));
      create unique index ux_t_parted_id on t_parted (project_id, id);
      create table t_plain (email text not null);
      create unique index ux_t_plain_email on t_plain (email);`);
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function violation(statement: string): Promise<unknown> {
    try {
      await db.sql.unsafe(statement);
    } catch (e) {
      return e;
    }
    throw new Error(`no violation: ${statement}`);
  }

  it("resolves a partition's index to the index the migration created", async () => {
    await db.sql.unsafe(`insert into t_parted values (1, 1, 'a@x.io')`);
    const byEmail = await violation(`insert into t_parted values (1, 2, 'A@x.io')`);
    expect(pg.classifyPgError(byEmail)?.constraint).not.toBe("ux_t_parted_email");
    expect(await pg.violatedUniqueIndex(db.sql, byEmail)).toBe("ux_t_parted_email");
    expect(await pg.isUniqueViolationOf(db.sql, byEmail, "ux_t_parted_email")).toBe(true);
    const byId = await violation(`insert into t_parted values (1, 1, 'b@x.io')`);
    expect(await pg.isUniqueViolationOf(db.sql, byId, "ux_t_parted_email")).toBe(false);
    expect(await pg.violatedUniqueIndex(db.sql, byId)).toBe("ux_t_parted_id");
  });

  it("keeps a plain table's index name, and ignores other errors", async () => {
    await db.sql.unsafe(`insert into t_plain values ('x')`);
    expect(await pg.violatedUniqueIndex(db.sql, await violation(`insert into t_plain values ('x')`))).toBe("ux_t_plain_email");
    expect(await pg.violatedUniqueIndex(db.sql, new Error("not a database error"))).toBeUndefined();
  });
});
