import { afterAll } from "vitest";
import { runPostMigrate, type Sql } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";

/**
 * A maker of migrated, never seeded databases, as `altalune migrate up --skip-seed` leaves one.
 * Call it at the top of a file or a describe block: what it made is dropped after that scope.
 */
export function freshDatabases(): () => Promise<Sql> {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.drop()));
  });
  return async () => {
    const db = await createTestDatabase();
    databases.push(db);
    await runPostMigrate(db.sql);
    return db.sql;
  };
}
