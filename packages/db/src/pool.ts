import postgres from "postgres";

/** A connection pool (or a reserved connection, which has the same query API). */
export type Sql = postgres.Sql;
/** The `sql` handed to a `sql.begin(tx => …)` callback. */
export type TransactionSql = postgres.TransactionSql;
/** A single connection taken out of a pool with `sql.reserve()`. */
export type ReservedSql = postgres.ReservedSql;
/**
 * Anything that can run queries: a pool, a reserved connection or an open
 * transaction. Helpers that must compose with a caller's transaction accept this.
 */
export type Queryable = Sql | TransactionSql;
export type PostgresNotice = postgres.Notice;

/** The subset of a pino-style logger the database layer needs. */
export interface DbLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export const silentLogger: DbLogger = { info: () => {}, warn: () => {} };

export interface PoolOptions {
  /** Maximum number of connections. Default 20. */
  max?: number;
  /** Seconds an idle connection is kept open. Default 30. */
  idleTimeoutSeconds?: number;
  /** Seconds to wait for a connection to be established. Default 10. */
  connectTimeoutSeconds?: number;
  /**
   * Receives server notices. Default: dropped, because idempotent DDL
   * (`CREATE … IF NOT EXISTS`) emits "already exists, skipping" notices that
   * postgres.js would otherwise print to stdout.
   */
  onnotice?: (notice: PostgresNotice) => void;
  /** Sent as `application_name`, visible in pg_stat_activity. Default "altalune". */
  applicationName?: string;
}

/**
 * Creates a postgres.js pool. Rows keep their snake_case column names and
 * postgres.js' default type parsing (int8 arrives as a string); repositories
 * map rows to domain objects explicitly.
 */
export function createPool(url: string, opts: PoolOptions = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 20,
    idle_timeout: opts.idleTimeoutSeconds ?? 30,
    connect_timeout: opts.connectTimeoutSeconds ?? 10,
    prepare: true,
    onnotice: opts.onnotice ?? (() => {}),
    connection: {
      application_name: opts.applicationName ?? "altalune",
      // Statements stay prepared (parsed once) but are planned with each call's values. A generic
      // plan cannot prune partitions at plan time (it locks and considers every project's
      // partition) and cannot see the keyword, so it picks trigram index scans even for 1–2
      // character keywords, where they degrade to full index scans (see bench/RESULTS.md).
      plan_cache_mode: "force_custom_plan",
    },
  });
}
