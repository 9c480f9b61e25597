import { tryAdvisoryXactLock, type Sql } from "@altalune/db";

/**
 * Statements on altalune_oidc_models that are not one model's adapter call (pg-adapter.ts holds
 * those): the purge of expired rows and the remembered consent's lookup.
 */

export const PURGE_LOCK_KEY = "altalune_oidc_models:purge";

/**
 * Deletes expired rows, in batches so a large backlog never holds long locks. One replica at a
 * time: each batch runs in a transaction that first takes a transaction-scoped advisory lock
 * (pg_try_advisory_xact_lock), and a purger that finds it taken stops — the other is at work.
 * A transaction-scoped lock is released with its transaction on whichever server connection ran
 * it, so it also works through a transaction-pooling PgBouncer, where a session-level lock would
 * stay behind on a pooled server connection (docs/operations.md "PgBouncer"). Returns the rows
 * deleted.
 */
export async function purgeExpired(sql: Sql, batchSize = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await sql.begin(async (tx) => {
      if (!(await tryAdvisoryXactLock(tx, PURGE_LOCK_KEY))) return undefined;
      const result = await tx`
        delete from altalune_oidc_models where ctid = any(array(
          select ctid from altalune_oidc_models where expires_at < CURRENT_TIMESTAMP limit ${batchSize}))`;
      return result.count;
    });
    if (deleted === undefined) return total;
    total += deleted;
    if (deleted < batchSize) return total;
  }
}

/** What a Grant's payload says was granted (a Grant holds no sealed ids: read as stored). */
export interface GrantedScopes {
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

/** The newest unexpired Grant of user `accountId` to client `clientId`, if any. */
export async function latestGrant(sql: Sql, accountId: string, clientId: string): Promise<GrantedScopes | undefined> {
  const [row] = await sql<{ payload: GrantedScopes }[]>`
    select payload from altalune_oidc_models
    where model = 'Grant' and account_id = ${accountId} and client_id = ${clientId}
      and (expires_at is null or expires_at > CURRENT_TIMESTAMP)
    order by created_at desc limit 1`;
  return row?.payload;
}
