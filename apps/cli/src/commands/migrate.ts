// `migrate up|down|status` and `seed`; `dev` migrates and seeds the same way.
import { createPool, migrateDown, migrateUp, migrationStatus, runPostMigrate, type Sql } from "@altalune/db";
import { seed } from "@altalune/resources";
import type { Runtime } from "../runtime.js";
import { usageError } from "../usage.js";

/**
 * Runs `fn` on the pool that `migrate` and `seed` use: a short-lived direct connection when
 * MIGRATION_DATABASE_URL differs from DATABASE_URL (the migrator's session-level advisory lock
 * cannot go through a transaction-pooling PgBouncer), otherwise the runtime's pool.
 */
async function withMigrationPool<T>(rt: Runtime, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const url = rt.config.migrationDatabaseUrl;
  if (url === undefined || url === rt.database.url) return fn(rt.sql);
  const sql = createPool(url, { max: 4, applicationName: "altalune-migrate" });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function migrateAndSeed(rt: Runtime, skipSeed: boolean): Promise<void> {
  await withMigrationPool(rt, async (sql) => {
    const { applied } = await migrateUp(sql, { logger: rt.logger });
    rt.logger.info(applied.length ? `applied migrations: ${applied.join(", ")}` : "database schema is up to date");
    await runPostMigrate(sql);
    if (!skipSeed) await seed(sql, rt.logger, rt.config);
  });
}

export async function seedDatabase(rt: Runtime): Promise<void> {
  await withMigrationPool(rt, (sql) => seed(sql, rt.logger, rt.config));
}

export async function migrate(rt: Runtime, sub: string | undefined, skipSeed: boolean, stepsText: string): Promise<number> {
  switch (sub) {
    case "up":
      await migrateAndSeed(rt, skipSeed);
      return 0;
    case "down": {
      const steps = Number(stepsText);
      if (!Number.isInteger(steps) || steps < 1) {
        process.stderr.write(`--steps must be a positive integer, got ${stepsText}\n`);
        return 2;
      }
      const { reverted } = await withMigrationPool(rt, (sql) => migrateDown(sql, { logger: rt.logger, steps }));
      rt.logger.info(reverted.length ? `reverted: ${reverted.join(", ")}` : "nothing to revert");
      return 0;
    }
    case "status": {
      for (const m of await withMigrationPool(rt, (sql) => migrationStatus(sql))) {
        const state = m.fileMissing
          ? "applied, FILE MISSING"
          : m.checksumMismatch
            ? "applied, CHANGED SINCE"
            : m.applied
              ? `applied ${m.appliedAt?.toISOString() ?? ""}`
              : "pending";
        process.stdout.write(`${m.version.padEnd(40)} ${state}\n`);
      }
      return 0;
    }
    default:
      return usageError("migrate needs up, down or status");
  }
}
