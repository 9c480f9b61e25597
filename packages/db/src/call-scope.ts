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

/**
 * The scope databaseCallGuard gives each call. Almost no call is ever abandoned and almost no
 * query waits for a connection, so the AbortSignal (costly to make) is made only when something
 * asks for it; `abandoned` answers without making it.
 */
export class AbandonableCallScope implements DbCallScope {
  private controller: AbortController | undefined;
  private gaveUp = false;

  get abandoned(): boolean {
    return this.gaveUp;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.gaveUp) this.controller.abort();
    }
    return this.controller.signal;
  }

  abandon(): void {
    this.gaveUp = true;
    this.controller?.abort();
  }
}

/** Whether the scope's call was abandoned (without making a lazy scope's signal). */
export function isAbandoned(scope: DbCallScope): boolean {
  return scope instanceof AbandonableCallScope ? scope.abandoned : scope.signal.aborted;
}

const storage = new AsyncLocalStorage<DbCallScope>();

export function currentDbCallScope(): DbCallScope | undefined {
  return storage.getStore();
}

export function runInDbCallScope<T>(scope: DbCallScope, fn: () => T): T {
  return storage.run(scope, fn);
}
