import { ensureAllPartitions } from "./partitions.js";
import type { Sql } from "./pool.js";

/**
 * Work that must follow every `migrateUp`: a migration can add a table
 * partitioned by project_id, which then needs partitions for the projects
 * that already exist. Idempotent.
 */
export async function runPostMigrate(sql: Sql): Promise<void> {
  await ensureAllPartitions(sql);
}
