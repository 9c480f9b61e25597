import { withAdvisorySessionLock } from "./advisory-lock.js";
import { isBlankSql, loadMigrations, type Migration, MigrationError } from "./migration-files.js";
import { type DbLogger, type ReservedSql, type Sql, silentLogger } from "./pool.js";

// test/global-setup.ts takes the directory from here (it imports the package's files, not its index).
export { DEFAULT_MIGRATIONS_DIR } from "./migration-files.js";

export const MIGRATIONS_TABLE = "altalune_migrations";

/** The session-level advisory lock that serialises migration runs (advisory-lock.ts). */
export const MIGRATION_LOCK_KEY = `${MIGRATIONS_TABLE}:migrate`;

export interface MigrationOptions {
  /** Directory holding `NNNN_description.sql` files. Default: the repo's `migrations/`. */
  dir?: string;
  logger?: DbLogger;
}

export interface MigrationStatusEntry {
  version: string;
  applied: boolean;
  appliedAt?: Date;
  /** The file on disk differs from the one that was applied. */
  checksumMismatch: boolean;
  /** Applied in the database but no longer on disk. */
  fileMissing: boolean;
}

interface AppliedRow {
  version: string;
  checksum: string;
  applied_at: Date;
}

async function trackingTableExists(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ exists: boolean }[]>`select to_regclass(${MIGRATIONS_TABLE}) is not null as exists`;
  return row?.exists ?? false;
}

async function readApplied(sql: Sql): Promise<AppliedRow[]> {
  return sql<AppliedRow[]>`
    select version, checksum, applied_at from ${sql(MIGRATIONS_TABLE)}
    order by applied_at, version`;
}

/** Refuses to run when history and disk disagree: editing an applied file never re-runs it. */
function verifyHistory(migrations: Migration[], applied: AppliedRow[]): void {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of applied) {
    const m = byVersion.get(row.version);
    if (!m) {
      throw new MigrationError(
        `migration ${row.version} is applied in the database but ${row.version}.sql is missing from the migrations directory`,
      );
    }
    if (m.checksum !== row.checksum) {
      throw new MigrationError(
        `${m.fileName} was modified after it was applied (checksum ${m.checksum} on disk, ${row.checksum} in ${MIGRATIONS_TABLE}); ` +
          "add a new migration instead of editing an applied one",
      );
    }
  }
}

/**
 * A pending file that sorts before an applied one would run in a different order here than on a
 * fresh database, so the two could end with different schemas: renumber it instead.
 */
function refuseOutOfOrder(migrations: Migration[], applied: ReadonlySet<string>): void {
  const lastApplied = migrations.filter((m) => applied.has(m.version)).at(-1);
  if (lastApplied === undefined) return;
  const early = migrations.find((m) => !applied.has(m.version) && m.version < lastApplied.version);
  if (early !== undefined) {
    throw new MigrationError(
      `${early.fileName} is pending but sorts before ${lastApplied.version}, which is applied; ` +
        "give it a number after the last applied migration",
    );
  }
}

/**
 * Runs `fn` on one reserved connection holding the migration advisory lock.
 * A session-level lock on a single connection is what makes concurrent
 * `migrateUp` calls (other processes, other pools) apply every file once.
 */
async function withMigrationLock<T>(sql: Sql, logger: DbLogger, fn: (conn: ReservedSql) => Promise<T>): Promise<T> {
  const conn = await sql.reserve();
  try {
    const migrate = async () => {
      await conn.unsafe(`create table if not exists ${MIGRATIONS_TABLE} (
        version text primary key,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`);
      return fn(conn);
    };
    return await withAdvisorySessionLock(conn, MIGRATION_LOCK_KEY, migrate, () => logger.info("waiting for another process to finish migrating"));
  } finally {
    conn.release();
  }
}

/**
 * postgres.js has no `begin` on reserved connections, so the transaction is
 * driven by hand; the lock and the transaction must share a connection.
 */
async function inTransaction(conn: ReservedSql, fn: () => Promise<void>): Promise<void> {
  await conn.unsafe("begin");
  try {
    await fn();
    await conn.unsafe("commit");
  } catch (e) {
    // A dead connection cannot roll back; the server aborts the transaction anyway.
    await conn.unsafe("rollback").catch(() => {});
    throw e;
  }
}

function describeFailure(fileName: string, part: "up" | "down", e: unknown): MigrationError {
  const message = e instanceof Error ? e.message : String(e);
  const error = new MigrationError(`${fileName} (${part}) failed: ${message}`);
  error.cause = e;
  return error;
}

/** Applies every pending migration in file-name order, each in its own transaction. */
export async function migrateUp(sql: Sql, opts: MigrationOptions = {}): Promise<{ applied: string[] }> {
  const logger = opts.logger ?? silentLogger;
  const migrations = await loadMigrations(opts.dir);
  return withMigrationLock(sql, logger, async (conn) => {
    const appliedRows = await readApplied(conn);
    verifyHistory(migrations, appliedRows);
    const done = new Set(appliedRows.map((r) => r.version));
    refuseOutOfOrder(migrations, done);
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      const started = performance.now();
      try {
        await inTransaction(conn, async () => {
          // Simple-query protocol (no parameters) lets a file hold many statements.
          if (!isBlankSql(m.up)) await conn.unsafe(m.up);
          await conn`insert into ${conn(MIGRATIONS_TABLE)} (version, checksum) values (${m.version}, ${m.checksum})`;
        });
      } catch (e) {
        throw describeFailure(m.fileName, "up", e);
      }
      applied.push(m.version);
      logger.info(`applied migration ${m.version} in ${Math.round(performance.now() - started)} ms`);
    }
    return { applied };
  });
}

/** Reverts the `steps` most recently applied migrations, newest first. */
export async function migrateDown(
  sql: Sql,
  opts: MigrationOptions & { steps?: number } = {},
): Promise<{ reverted: string[] }> {
  const logger = opts.logger ?? silentLogger;
  const steps = opts.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new MigrationError(`steps must be a positive integer, got ${steps}`);
  const migrations = await loadMigrations(opts.dir);
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  return withMigrationLock(sql, logger, async (conn) => {
    const appliedRows = await readApplied(conn);
    verifyHistory(migrations, appliedRows);
    const targets = appliedRows.slice(-steps).reverse();
    // Check every target before touching anything, so a missing down part
    // cannot leave the database half-reverted.
    for (const row of targets) {
      const m = byVersion.get(row.version);
      if (m && isBlankSql(m.down)) {
        throw new MigrationError(`${m.fileName} has no "-- migrate:down" part; it cannot be reverted`);
      }
    }
    const reverted: string[] = [];
    for (const row of targets) {
      const m = byVersion.get(row.version);
      if (!m) throw new MigrationError(`migration ${row.version} vanished while reverting`);
      try {
        await inTransaction(conn, async () => {
          await conn.unsafe(m.down);
          await conn`delete from ${conn(MIGRATIONS_TABLE)} where version = ${m.version}`;
        });
      } catch (e) {
        throw describeFailure(m.fileName, "down", e);
      }
      reverted.push(m.version);
      logger.info(`reverted migration ${m.version}`);
    }
    return { reverted };
  });
}

/** Lists every migration on disk or in the database, in order. Takes no lock. */
export async function migrationStatus(sql: Sql, opts: Pick<MigrationOptions, "dir"> = {}): Promise<MigrationStatusEntry[]> {
  const migrations = await loadMigrations(opts.dir);
  const appliedRows = (await trackingTableExists(sql)) ? await readApplied(sql) : [];
  const appliedByVersion = new Map(appliedRows.map((r) => [r.version, r]));
  const entries: MigrationStatusEntry[] = migrations.map((m) => {
    const row = appliedByVersion.get(m.version);
    if (!row) return { version: m.version, applied: false, checksumMismatch: false, fileMissing: false };
    return {
      version: m.version,
      applied: true,
      appliedAt: row.applied_at,
      checksumMismatch: row.checksum !== m.checksum,
      fileMissing: false,
    };
  });
  const onDisk = new Set(migrations.map((m) => m.version));
  for (const row of appliedRows) {
    if (onDisk.has(row.version)) continue;
    entries.push({ version: row.version, applied: true, appliedAt: row.applied_at, checksumMismatch: false, fileMissing: true });
  }
  return entries.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}
