import type { Gate } from "./gate.js";
import type { DatabaseHealth } from "./health.js";
import type { PoolObserver } from "./pool-observers.js";
import type { PoolOptions } from "./raw-pool.js";
import type { Sql, TransactionSql } from "./sql-types.js";
import type { TransactionOptions } from "./transaction.js";

/** What createPool keeps about a pool it made, for the functions that take the pool. */
export interface PoolInternals {
  url: string;
  opts: PoolOptions;
  gate: Gate;
  health: DatabaseHealth | undefined;
  /** Told of each settled top-level statement and transaction (observePool); empty = not timed. */
  observers: Set<PoolObserver>;
  /** How many observers wrap transactions or see the statements inside them (tracing); 0 = neither. */
  transactionObservers: number;
  transaction<T>(fn: (tx: TransactionSql) => T | Promise<T>, opts: TransactionOptions): Promise<T>;
}

const internals = new WeakMap<object, PoolInternals>();

export function rememberPool(pool: Sql, state: PoolInternals): void {
  internals.set(pool, state);
}

/** The pool's internals, or undefined when `sql` was not made by createPool. */
export function findPoolInternals(sql: Sql): PoolInternals | undefined {
  return internals.get(sql);
}

/** The pool's internals; `caller` needs a pool made by createPool and says so otherwise. */
export function poolInternals(sql: Sql, caller: string): PoolInternals {
  const state = internals.get(sql);
  if (state === undefined) throw new Error(`${caller} needs a pool made by createPool`);
  return state;
}
