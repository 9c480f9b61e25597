import type postgres from "postgres";
import { currentPendingAudit } from "./audit-scope.js";
import { currentDbCallScope } from "./call-scope.js";
import { transientKind } from "./pg-errors.js";
import { DatabaseUnavailableError, TransactionConflictError, translateDatabaseError } from "./unavailable.js";

/** Serialization failures and deadlocks are retried this many times by default (3 attempts). */
export const DEFAULT_TRANSACTION_RETRIES = 2;

export interface TransactionOptions {
  /** Extra attempts after a serialization failure (40001) or deadlock (40P01). Default 2. */
  retries?: number;
  /** e.g. "isolation level serializable"; passed to BEGIN. */
  mode?: string;
}

type Begin = <T>(mode: string, fn: (tx: postgres.TransactionSql) => T | Promise<T>) => Promise<T>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` in a transaction on `begin` (postgres.js' sql.begin), the single place that decides
 * what a failed transaction means:
 * - a serialization failure or deadlock is retried (fn runs again from the start) up to
 *   `retries` times, then TransactionConflictError (Aborted, 60015). Only those two, whose
 *   attempt is known to have rolled back;
 * - a connection lost before COMMIT was sent: DatabaseUnavailableError `unreachable` (nothing
 *   committed); lost after COMMIT was sent: `commit_unknown` — never retried, because the write
 *   may have been applied;
 * - the call abandoned (see call-scope.ts): rolls back instead of committing;
 * - in an audited call whose audit row is not written yet (audit-scope.ts), the row is the last
 *   statement before COMMIT: it commits with the change or not at all.
 * `fn` may run more than once, so it must not have effects outside the transaction.
 */
export async function runTransaction<T>(
  begin: Begin,
  fn: (tx: postgres.TransactionSql) => T | Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  const retries = opts.retries ?? DEFAULT_TRANSACTION_RETRIES;
  const signal = currentDbCallScope()?.signal;
  const audit = currentPendingAudit();
  for (let attempt = 1; ; attempt++) {
    let commitSent = false;
    let committed = false;
    audit?.transactionStarted();
    try {
      const value = await begin(opts.mode ?? "", async (tx) => {
        if (signal?.aborted) throw new DatabaseUnavailableError("timeout");
        const result = await fn(tx);
        if (audit !== undefined) await audit.beforeCommit(tx);
        // Throwing here makes postgres.js roll back: an abandoned call commits nothing.
        if (signal?.aborted) throw new DatabaseUnavailableError("timeout");
        // postgres.js sends COMMIT as soon as this callback's promise resolves.
        commitSent = true;
        return result;
      });
      committed = true;
      return value;
    } catch (e) {
      const kind = transientKind(e);
      if (kind === "conflict") {
        if (attempt > retries) throw new TransactionConflictError(attempt, e);
        // A little jitter keeps two conflicting retries from meeting again in lockstep.
        await sleep(Math.random() * 10 * attempt);
        continue;
      }
      throw translateDatabaseError(e, commitSent ? "commit_unknown" : "unreachable");
    } finally {
      audit?.transactionEnded(committed);
    }
  }
}
