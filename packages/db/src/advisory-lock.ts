import type { TransactionSql } from "./pool.js";

/**
 * Takes the transaction-scoped advisory lock named `key` if no other session holds it, and says
 * whether it did. Periodic jobs that every replica runs (purges, partition maintenance) take it
 * first: the replica that finds it taken stops, the other is at work. The lock goes with the
 * transaction, so a replica that dies mid-job cannot keep it. Keys are hashed as the auth server's
 * purge does (hashtext), so one namespace of names serves both apps.
 */
export async function tryAdvisoryXactLock(tx: TransactionSql, key: string): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(hashtext(${key})) as ok`;
  return row?.ok === true;
}
