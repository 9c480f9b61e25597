import { ensureAuditPartitions } from "./audit-partitions.js";
import { ensureAllPartitions } from "./partitions.js";
import type { Sql } from "./pool.js";

/**
 * Work that must follow every `migrateUp`: a migration can add a table
 * partitioned by project_id, which then needs partitions for the projects
 * that already exist; and the audit log's months ahead must exist before anything is written
 * (migration 0019 made them when it ran, which may be long ago). Idempotent.
 */
export async function runPostMigrate(sql: Sql): Promise<void> {
  await ensureAllPartitions(sql);
  const [audit] = await sql<{ exists: boolean }[]>`select to_regclass('altalune_audit_events') is not null as exists`;
  if (audit?.exists === true) await sql.begin((tx) => ensureAuditPartitions(tx));
}
