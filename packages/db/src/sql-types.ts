import type postgres from "postgres";

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
