import { isPendingQuery, sentText, type PendingQuery } from "./pending-query.js";
import { poolInternals, type PoolInternals } from "./pool-state.js";
import type { Sql, TransactionSql } from "./sql-types.js";
import { statementKind, type StatementKind } from "./statement-kind.js";
import { runTransaction, type TransactionOptions } from "./transaction.js";

/**
 * What observePool reports: a settled top-level statement (its kind from the first keyword, see
 * statement-kind.ts) or a whole `sql.begin` transaction, with the seconds it held its permit (the
 * wait for one is the pool's `waiting`, not in here). `detail` has the statement's text as sent
 * (postgres.js' text with `$1…$n` placeholders: values never are in it) for tracing; metrics
 * ignore it. Called where the statement settled, so in its caller's async context.
 */
export type QueryObserver = (kind: StatementKind, seconds: number, ok: boolean, detail: StatementDetail) => void;

export interface StatementDetail {
  /** performance.now() when it got its permit (inside a transaction: when it was handed to postgres.js). */
  readonly startedAt: number;
  /** The statement text with placeholders; undefined for a transaction or a statement never sent. */
  readonly text: string | undefined;
  /** True for a statement inside a `sql.begin` transaction (only told to `statementsInTransactions` observers). */
  readonly inTransaction: boolean;
}

/** An observer that also wraps transactions (tracing: a live span the statements inside are children of). */
export interface PoolObserver {
  readonly settled: QueryObserver;
  /** Runs each `sql.begin` transaction (all its attempts) inside `run`. */
  readonly transaction?: <T>(run: () => Promise<T>) => Promise<T>;
  /** Also told of each statement inside a transaction (not only of the whole transaction). */
  readonly statementsInTransactions?: boolean;
}

export function notifyObservers(state: PoolInternals, kind: StatementKind, started: number, ok: boolean, text?: string): void {
  const seconds = (performance.now() - started) / 1000;
  const detail: StatementDetail = { startedAt: started, text, inTransaction: false };
  for (const observer of state.observers) observer.settled(kind, seconds, ok, detail);
}

/** Releases the permit of statement `q` when it settles, and reports it to the observers. */
export function releaseObserved(state: PoolInternals, q: PendingQuery): void {
  const started = performance.now();
  const kind = statementKind(q.strings);
  // Module functions, not named closures: under tsx (esbuild keepNames) every named closure made
  // per statement also costs a defineProperty call.
  Promise.prototype.then.call(
    q,
    () => settleObserved(state, q, kind, started, true),
    () => settleObserved(state, q, kind, started, false),
  );
}

function settleObserved(state: PoolInternals, q: PendingQuery, kind: StatementKind, started: number, ok: boolean): void {
  state.gate.release();
  notifyObservers(state, kind, started, ok, sentText(q));
}

export type Begin = (mode: string, body: (tx: TransactionSql) => unknown) => Promise<never>;

/** A transaction run through the observers' wrappers, its statements reported to those that ask. */
export function observedTransaction<T>(state: PoolInternals, begin: Begin, fn: (tx: TransactionSql) => T | Promise<T>, opts: TransactionOptions): Promise<T> {
  const inner = [...state.observers].filter((o) => o.statementsInTransactions === true);
  const body = inner.length === 0 ? fn : (tx: TransactionSql) => fn(observedTx(tx, inner));
  let run = () => runTransaction(begin, body, opts);
  for (const observer of state.observers) {
    const wrap = observer.transaction;
    if (wrap === undefined) continue;
    const next = run;
    run = () => wrap(next);
  }
  return run();
}

/** The transaction's `sql`, reporting each statement when it settles (savepoints' statements are not). */
function observedTx(tx: TransactionSql, observers: readonly PoolObserver[]): TransactionSql {
  const watch = <Q>(query: Q): Q => {
    if (!isPendingQuery(query)) return query;
    const handle = query.handler;
    query.handler = (q) => {
      const started = performance.now();
      const kind = statementKind(q.strings);
      const settle = (ok: boolean) => {
        const seconds = (performance.now() - started) / 1000;
        const detail: StatementDetail = { startedAt: started, text: sentText(q), inTransaction: true };
        for (const observer of observers) observer.settled(kind, seconds, ok, detail);
      };
      Promise.prototype.then.call(q, () => settle(true), () => settle(false));
      handle(q);
    };
    return query;
  };
  return new Proxy(tx, {
    apply(fn, thisArg, args: unknown[]) {
      return watch(Reflect.apply(fn, thisArg, args));
    },
    get(obj, key, receiver) {
      if (key === "unsafe" || key === "file") {
        const original = Reflect.get(obj, key, receiver) as (...a: unknown[]) => unknown;
        return (...a: unknown[]) => watch(original(...a));
      }
      return Reflect.get(obj, key, receiver);
    },
  });
}

/**
 * Times the statements and transactions of a pool made by createPool (metrics, tracing). Returns
 * the function that stops it. Statements inside a transaction are counted in the transaction,
 * unless the observer asks for them (`statementsInTransactions`).
 */
export function observePool(sql: Sql, observer: QueryObserver | PoolObserver): () => void {
  const state = poolInternals(sql, "observePool");
  const entry: PoolObserver = typeof observer === "function" ? { settled: observer } : observer;
  const wrapsTransactions = entry.transaction !== undefined || entry.statementsInTransactions === true;
  state.observers.add(entry);
  if (wrapsTransactions) state.transactionObservers++;
  return () => {
    if (state.observers.delete(entry) && wrapsTransactions) state.transactionObservers--;
  };
}
