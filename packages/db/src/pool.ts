import postgres from "postgres";
import { currentDbCallScope } from "./call-scope.js";
import { Gate } from "./gate.js";
import { DatabaseHealth, type DatabaseHealthOptions } from "./health.js";
import { transientKind } from "./pg-errors.js";
import { statementKind, type StatementKind } from "./statement-kind.js";
import { runTransaction, type TransactionOptions } from "./transaction.js";
import { DatabaseUnavailableError, translateDatabaseError } from "./unavailable.js";

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
  /** Seconds to wait for a connection to be established. Default 2. */
  connectTimeoutSeconds?: number;
  /**
   * How long a query or transaction waits for one of the `max` connections before it is answered
   * DatabaseUnavailableError `pool_busy`. Default 5000 ms; the servers pass DB_UNAVAILABLE_TIMEOUT_MS.
   */
  queueTimeoutMs?: number;
  /**
   * Receives server notices. Default: dropped, because idempotent DDL
   * (`CREATE … IF NOT EXISTS`) emits "already exists, skipping" notices that
   * postgres.js would otherwise print to stdout.
   */
  onnotice?: (notice: PostgresNotice) => void;
  /** Sent as `application_name`, visible in pg_stat_activity. Default "altalune". */
  applicationName?: string;
  /**
   * Named prepared statements. Default true. Set false (DATABASE_PREPARE=false) when the URL is a
   * PgBouncer in transaction pooling mode: 1.18 hands each transaction any server connection, and
   * a statement prepared on one is unknown on the next ("prepared statement … does not exist").
   */
  prepare?: boolean;
}

/**
 * Reconnect delay after a failed connection attempt, in seconds. postgres.js' default grows
 * 3^n/100 s up to 20 s, so after a few seconds of outage a recovered database was left unused
 * for seconds; this one stays at or below 250 ms, so the pool reconnects promptly. Connecting to
 * a database that refuses costs little; one that does not answer is bounded by connect_timeout.
 */
function reconnectBackoff(retries: number): number {
  return Math.min(0.01 * 2 ** retries, 0.25) * (0.5 + Math.random() / 2);
}

function rawPool(url: string, opts: PoolOptions): Sql {
  const prepare = opts.prepare ?? true;
  return postgres(url, {
    max: opts.max ?? 20,
    idle_timeout: opts.idleTimeoutSeconds ?? 30,
    // A connection attempt that hangs (a peer that swallows packets) holds the queries queued on
    // it: 2 s bounds that wait well under a client's patience, and far above a healthy connect.
    connect_timeout: opts.connectTimeoutSeconds ?? 2,
    backoff: reconnectBackoff,
    prepare,
    onnotice: opts.onnotice ?? (() => {}),
    connection: {
      application_name: opts.applicationName ?? "altalune",
      // Statements stay prepared (parsed once) but are planned with each call's values. A generic
      // plan cannot prune partitions at plan time (it locks and considers every project's
      // partition) and cannot see the keyword, so it picks trigram index scans even for 1–2
      // character keywords, where they degrade to full index scans (see bench/RESULTS.md).
      // Unprepared (unnamed) statements are planned with their values anyway, and PgBouncer
      // refuses startup parameters it does not know, so the setting is sent only when preparing.
      ...(prepare ? { plan_cache_mode: "force_custom_plan" } : {}),
    },
  });
}

interface PoolInternals {
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

/** postgres.js' Query: a lazy promise that hands itself to `handler` when first awaited. */
interface PendingQuery extends Promise<unknown> {
  /** The template's string parts (or an `unsafe` query's text): read for the statement kind only. */
  strings?: unknown;
  handler: (q: PendingQuery) => void;
  reject: (e: unknown) => void;
  resolve: (v: unknown) => void;
}

function isPendingQuery(x: unknown): x is PendingQuery {
  return x instanceof Promise && "handler" in x && typeof (x as { handler: unknown }).handler === "function" && "reject" in x;
}

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
  internals.set(pool, state);
  return pool;
}

/**
 * The health of a pool made by createPool: probing starts on the first call and stops when the
 * pool ends. The probe has its own connection (same URL and connect timeout).
 */
export function databaseHealth(sql: Sql, opts: DatabaseHealthOptions = {}): DatabaseHealth {
  const state = internals.get(sql);
  if (state === undefined) throw new Error("databaseHealth needs a pool made by createPool");
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
  const state = internals.get(sql);
  if (state !== undefined) return state.transaction(fn, opts);
  return runTransaction((mode, body) => sql.begin(mode, body) as Promise<never>, fn, opts);
}

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

function notifyObservers(state: PoolInternals, kind: StatementKind, started: number, ok: boolean, text?: string): void {
  const seconds = (performance.now() - started) / 1000;
  const detail: StatementDetail = { startedAt: started, text, inTransaction: false };
  for (const observer of state.observers) observer.settled(kind, seconds, ok, detail);
}

/** The text postgres.js sent (`q.string`, set when it built the statement). */
function sentText(q: PendingQuery): string | undefined {
  const text = (q as { string?: unknown }).string;
  return typeof text === "string" ? text : undefined;
}

function releaseObserved(state: PoolInternals, q: PendingQuery): void {
  const started = performance.now();
  const kind = statementKind(q.strings);
  const settle = (ok: boolean) => {
    state.gate.release();
    notifyObservers(state, kind, started, ok, sentText(q));
  };
  Promise.prototype.then.call(q, () => settle(true), () => settle(false));
}

type Begin = (mode: string, body: (tx: TransactionSql) => unknown) => Promise<never>;

/** A transaction run through the observers' wrappers, its statements reported to those that ask. */
function observedTransaction<T>(state: PoolInternals, begin: Begin, fn: (tx: TransactionSql) => T | Promise<T>, opts: TransactionOptions): Promise<T> {
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
  const state = internals.get(sql);
  if (state === undefined) throw new Error("observePool needs a pool made by createPool");
  const entry: PoolObserver = typeof observer === "function" ? { settled: observer } : observer;
  const wrapsTransactions = entry.transaction !== undefined || entry.statementsInTransactions === true;
  state.observers.add(entry);
  if (wrapsTransactions) state.transactionObservers++;
  return () => {
    if (state.observers.delete(entry) && wrapsTransactions) state.transactionObservers--;
  };
}

/** The gate's counts now (read-only): permits (DB_POOL_MAX), in use, and queries waiting for one. */
export interface PoolStats {
  max: number;
  inUse: number;
  waiting: number;
}

export function poolStats(sql: Sql): PoolStats {
  const state = internals.get(sql);
  if (state === undefined) throw new Error("poolStats needs a pool made by createPool");
  return { max: state.opts.max ?? 20, inUse: state.gate.inUse, waiting: state.gate.waiting };
}
