import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The database work of one RPC call. When the call is abandoned (answered Unavailable because the
 * database did not answer in time), `signal` aborts: its queries still waiting for a connection
 * are dropped unsent, and its transactions roll back instead of committing — so an answer of
 * Unavailable with reason `timeout` means nothing of the call was committed.
 */
export interface DbCallScope {
  readonly signal: AbortSignal;
}

const storage = new AsyncLocalStorage<DbCallScope>();

export function currentDbCallScope(): DbCallScope | undefined {
  return storage.getStore();
}

export function runInDbCallScope<T>(scope: DbCallScope, fn: () => T): T {
  return storage.run(scope, fn);
}
