import type { ReservedSql, TransactionSql } from "./sql-types.js";

/**
 * The one way the apps take PostgreSQL advisory locks. A lock is named ("table:purpose") and its
 * key is always `hashtext(name)`, computed by the server, so every caller of a name meets the same
 * lock and a test can find it in pg_locks (`objid = hashtext(name)::oid`).
 *
 * Transaction-scoped locks are the rule: the lock goes with its transaction, on whichever server
 * connection ran it, so it works through a transaction-pooling PgBouncer and a process that dies
 * mid-job cannot keep it. A session-level lock through such a pooler is taken on one server
 * connection and "released" on another, and stays behind (docs/operations.md "PgBouncer"); only
 * the migrator, which runs over a direct connection, holds one.
 */

/** A transaction: `sql.begin`'s, or a reserved connection inside a `begin` sent by hand. */
type InTransaction = TransactionSql | ReservedSql;

/** Waits for the transaction-scoped lock `name`; it is released when the transaction ends. */
export async function advisoryXactLock(tx: InTransaction, name: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtext(${name}))`;
}

/**
 * Takes the transaction-scoped lock `name` if no other session holds it, and says whether it did.
 * Periodic jobs that every replica runs (purges, partition maintenance) take it first: the replica
 * that finds it taken stops, the other is at work.
 */
export async function tryAdvisoryXactLock(tx: InTransaction, name: string): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(hashtext(${name})) as ok`;
  return row?.ok === true;
}

/**
 * Runs `fn` holding the session-level lock `name` on the reserved connection `conn`, for work that
 * spans several transactions on that connection (the migrator). `onWait` is told when another
 * session holds the lock, before waiting for it. Needs a direct connection, never a transaction pooler.
 */
export async function withAdvisorySessionLock<T>(conn: ReservedSql, name: string, fn: () => Promise<T>, onWait?: () => void): Promise<T> {
  const [row] = await conn<{ ok: boolean }[]>`select pg_try_advisory_lock(hashtext(${name})) as ok`;
  if (row?.ok !== true) {
    onWait?.();
    await conn`select pg_advisory_lock(hashtext(${name}))`;
  }
  try {
    return await fn();
  } finally {
    await conn`select pg_advisory_unlock(hashtext(${name}))`;
  }
}
