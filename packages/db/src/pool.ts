import { currentDbCallScope } from "./call-scope.js";
import { Gate } from "./gate.js";
import { DatabaseHealth, type DatabaseHealthOptions } from "./health.js";
import { isPendingQuery } from "./pending-query.js";
import { notifyObservers, observedTransaction, releaseObserved } from "./pool-observers.js";
import { findPoolInternals, poolInternals, rememberPool, type PoolInternals } from "./pool-state.js";
import { transientKind } from "./pg-errors.js";
import { rawPool, type PoolOptions } from "./raw-pool.js";
import type { Sql, TransactionSql } from "./sql-types.js";
import { runTransaction, type TransactionOptions } from "./transaction.js";
import { DatabaseUnavailableError, translateDatabaseError } from "./unavailable.js";

// The package's modules and test/global-setup.ts take the query types and options from here.
export type { PostgresNotice, Queryable, ReservedSql, Sql, TransactionSql } from "./sql-types.js";
export type { PoolOptions } from "./raw-pool.js";

/** The subset of a pino-style logger the database layer needs. */
export interface DbLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export const silentLogger: DbLogger = { info: () => {}, warn: () => {} };

/**
 * Creates a postgres.js pool. Rows keep their snake_case column names and
 * postgres.js' default type parsing (int8 arrives as a string); repositories
 * map rows to domain objects explicitly.
 *
 * The pool returned has the postgres.js API, with three things added centrally so repositories
 * need no changes:
 * - a bounded wait for a connection (`queueTimeoutMs`, see gate.ts);
 * - `sql.begin` goes through the transaction helper (serialization failures and deadlocks
 *   retried, connection losses classified; see transaction.ts);
 * - failures that mean "database unavailable" reject with DatabaseUnavailableError (60014), so
 *   no caller can mistake them for a bug. Other errors are the driver's own.
 * Reserved connections (`sql.reserve()`), LISTEN and COPY are passed through unchanged.
 */
export function createPool(url: string, opts: PoolOptions = {}): Sql {
  const target = rawPool(url, opts);
  const gate = new Gate(opts.max ?? 20, opts.queueTimeoutMs ?? 5000);
  const state: PoolInternals = {
    url,
    opts,
    gate,
    health: undefined,
    observers: new Set(),
    transactionObservers: 0,
    async transaction(fn, txOpts) {
      await gate.acquire(currentDbCallScope());
      const started = state.observers.size === 0 ? undefined : performance.now();
      let ok = false;
      try {
        const begin = (mode: string, body: (tx: TransactionSql) => unknown) => target.begin(mode, body) as Promise<never>;
        const result = state.transactionObservers === 0 ? await runTransaction(begin, fn, txOpts) : await observedTransaction(state, begin, fn, txOpts);
        state.health?.reportSuccess();
        ok = true;
        return result;
      } catch (e) {
        if (e instanceof DatabaseUnavailableError && e.reason !== "pool_busy" && e.reason !== "timeout") state.health?.reportFailure();
        throw e;
      } finally {
        gate.release();
        if (started !== undefined) notifyObservers(state, "transaction", started, ok);
      }
    },
  };

  // Each top-level query waits for a permit before postgres.js sees it, and is dropped unsent
  // when its call was abandoned meanwhile.
  const gated = <Q>(query: Q): Q => {
    if (!isPendingQuery(query)) return query;
    const scope = currentDbCallScope();
    const handle = query.handler;
    const reject = query.reject;
    const resolve = query.resolve;
    query.reject = (e: unknown) => {
      if (transientKind(e) === "unavailable") state.health?.reportFailure();
      reject(translateDatabaseError(e));
    };
    query.resolve = (v: unknown) => {
      state.health?.reportSuccess();
      resolve(v);
    };
    query.handler = (q) => {
      gate.acquire(scope).then(
        () => {
          // Released when the query settles, whichever way (then() without a new handle()).
          if (state.observers.size === 0) Promise.prototype.then.call(q, () => gate.release(), () => gate.release());
          else releaseObserved(state, q);
          handle(q);
        },
        (e: unknown) => reject(e),
      );
    };
    return query;
  };

  const begin = (modeOrFn: unknown, maybeFn?: unknown) => {
    const fn = (typeof modeOrFn === "function" ? modeOrFn : maybeFn) as (tx: TransactionSql) => unknown;
    const mode = typeof modeOrFn === "string" ? modeOrFn : "";
    return state.transaction(fn, { mode });
  };

  const pool = new Proxy(target, {
    apply(fn, thisArg, args: unknown[]) {
      return gated(Reflect.apply(fn, thisArg, args));
    },
    get(obj, key, receiver) {
      if (key === "begin") return begin;
      if (key === "unsafe" || key === "file") {
        const original = Reflect.get(obj, key, receiver) as (...a: unknown[]) => unknown;
        return (...a: unknown[]) => gated(original(...a));
      }
      if (key === "end") {
        return async (endOpts?: { timeout?: number }) => {
          await state.health?.stop();
          return target.end(endOpts);
        };
      }
      return Reflect.get(obj, key, receiver);
    },
  });
  rememberPool(pool, state);
  return pool;
}

/**
 * The health of a pool made by createPool: probing starts on the first call and stops when the
 * pool ends. The probe has its own connection (same URL and connect timeout).
 */
export function databaseHealth(sql: Sql, opts: DatabaseHealthOptions = {}): DatabaseHealth {
  const state = poolInternals(sql, "databaseHealth");
  state.health ??= new DatabaseHealth(() => rawPool(state.url, { ...state.opts, max: 1, applicationName: "altalune-health" }), opts);
  return state.health;
}

/**
 * Runs `fn` in a transaction with the helper's semantics (see transaction.ts), e.g. a different
 * number of retries or an isolation level: `inTransaction(sql, fn, { retries: 5, mode: "isolation
 * level serializable" })`. On a pool from createPool, plain `sql.begin` does the same with the
 * defaults.
 */
export function inTransaction<T>(sql: Sql, fn: (tx: TransactionSql) => T | Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  const state = findPoolInternals(sql);
  if (state !== undefined) return state.transaction(fn, opts);
  return runTransaction((mode, body) => sql.begin(mode, body) as Promise<never>, fn, opts);
}

/** The gate's counts now (read-only): permits (DB_POOL_MAX), in use, and queries waiting for one. */
export interface PoolStats {
  max: number;
  inUse: number;
  waiting: number;
}

export function poolStats(sql: Sql): PoolStats {
  const state = poolInternals(sql, "poolStats");
  return { max: state.opts.max ?? 20, inUse: state.gate.inUse, waiting: state.gate.waiting };
}
