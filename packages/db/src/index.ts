export {
  createPool,
  databaseHealth,
  inTransaction,
  silentLogger,
  type DbLogger,
  type PoolOptions,
  type PostgresNotice,
  type Queryable,
  type ReservedSql,
  type Sql,
  type TransactionSql,
} from "./pool.js";
export {
  MIGRATION_LOCK_KEY,
  MIGRATIONS_TABLE,
  migrateDown,
  migrateUp,
  migrationStatus,
  type MigrationOptions,
  type MigrationStatusEntry,
} from "./migrator.js";
export { DEFAULT_MIGRATIONS_DIR, MigrationError, loadMigrations, parseMigration, type Migration } from "./migration-files.js";
export {
  classifyPgError,
  isCheckViolation,
  isForeignKeyViolation,
  isInvalidTextRepresentation,
  isNotNullViolation,
  isUniqueViolation,
  isUniqueViolationOf,
  isDatabaseUnavailableError,
  isRetryableConflict,
  transientKind,
  violatedUniqueIndex,
  type TransientKind,
  type PgErrorInfo,
  type PgErrorKind,
} from "./pg-errors.js";
export {
  embeddedUrl,
  findFreePort,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
} from "./embedded.js";
export {
  databaseUrlFor,
  redactUrl,
  resolveDatabase,
  type ResolveDatabaseOptions,
  type ResolvedDatabase,
} from "./database-url.js";
export {
  PARTITION_KEY_COLUMN,
  PROJECTS_TABLE,
  createProjectPartitions,
  dropProjectPartitions,
  ensureAllPartitions,
  partitionName,
  partitionedTables,
  projectIdLiteral,
  quoteIdent,
} from "./partitions.js";
export { runPostMigrate } from "./post-migrate.js";
export * from "./list-query.js";
export { DatabaseHealth, type DatabaseHealthOptions } from "./health.js";
export { databaseCallGuard } from "./call-guard.js";
export { currentDbCallScope, runInDbCallScope, type DbCallScope } from "./call-scope.js";
export { DEFAULT_TRANSACTION_RETRIES, type TransactionOptions } from "./transaction.js";
export {
  DatabaseCodes,
  DatabaseUnavailableError,
  TransactionConflictError,
  translateDatabaseError,
  type UnavailableReason,
} from "./unavailable.js";
export { poolStats, type PoolStats } from "./pool.js";
export { observePool, type PoolObserver, type QueryObserver, type StatementDetail } from "./pool-observers.js";
export { traceStatements } from "./tracing.js";
export { statementKind, type StatementKind } from "./statement-kind.js";
export { AUDIT_EVENTS_TABLE, writeAuditEvent, type AuditRowTextColumns } from "./audit-writer.js";
export { auditedWrite, callAuditEvents, currentPendingAudit, PendingAuditEvent, tagAuditEvent } from "./audit-scope.js";
export {
  AUDIT_MAINTENANCE_LOCK,
  AUDIT_MONTHS_AHEAD,
  auditPartitions,
  dropExpiredAuditPartitions,
  ensureAuditPartitions,
  runAuditMaintenance,
  type AuditMaintenanceResult,
  type AuditPartition,
} from "./audit-partitions.js";
export { advisoryXactLock, tryAdvisoryXactLock, withAdvisorySessionLock } from "./advisory-lock.js";
