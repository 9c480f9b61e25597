import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@altalune/core";
import { createTestDatabase, type TestDatabase } from "./testing.js";
import { inTransaction } from "./pool.js";
import { TransactionConflictError } from "./unavailable.js";

describe("transaction helper", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    await db.sql`create table ledger (k int primary key, total int not null)`;
  });
  afterAll(() => db?.drop());

  it("two conflicting serializable transactions: the loser is retried and both end correctly", async () => {
    let attempts = 0;
    let bothRead: () => void = () => {};
    const barrier = new Promise<void>((resolve) => (bothRead = resolve));
    let readers = 0;
    // Each reads the sum and inserts a row holding it: a write skew that SERIALIZABLE refuses.
    const add = (k: number) =>
      inTransaction(
        db.sql,
        async (tx) => {
          attempts++;
          const [row] = await tx<{ s: number }[]>`select coalesce(sum(total), 0)::int as s from ledger`;
          if (++readers === 2) bothRead();
          if (readers <= 2) await barrier; // only the first attempts meet here
          await tx`insert into ledger (k, total) values (${k}, ${(row?.s ?? 0) + k})`;
        },
        { mode: "isolation level serializable" },
      );
    await Promise.all([add(1), add(2)]);
    expect(attempts).toBe(3);
    const rows = await db.sql<{ k: number; total: number }[]>`select k, total from ledger order by total`;
    // Serial order: one inserted k with the sum 0, the other saw that row.
    expect(rows.map((r) => r.total).sort()).toEqual(rows[0]!.k === 1 ? [1, 3] : [2, 3]);
  });

  it("a conflict that persists: bounded attempts, then Aborted 60015", async () => {
    let attempts = 0;
    const e = await inTransaction(
      db.sql,
      async (tx) => {
        attempts++;
        await tx`do $$ begin raise exception 'conflict' using errcode = '40001'; end $$`;
      },
      { retries: 2 },
    ).catch((err: unknown) => err);
    expect(attempts).toBe(3);
    expect(e).toBeInstanceOf(TransactionConflictError);
    expect(e).toMatchObject({ code: "60015", status: "aborted", meta: { attempts: "3" } });
  });

  it("sql.begin on the pool goes through the helper (deadlock retried, other errors untouched)", async () => {
    let attempts = 0;
    await db.sql.begin(async (tx) => {
      attempts++;
      if (attempts === 1) await tx`do $$ begin raise exception 'deadlock' using errcode = '40P01'; end $$`;
      await tx`insert into ledger (k, total) values (10, 10)`;
    });
    expect(attempts).toBe(2);
    const dup = await db.sql.begin((tx) => tx`insert into ledger (k, total) values (10, 10)`).catch((err: unknown) => err);
    expect(dup).not.toBeInstanceOf(AppError);
    expect(dup).toMatchObject({ code: "23505" });
  });
});
