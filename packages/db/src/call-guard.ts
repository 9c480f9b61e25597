import { AbandonableCallScope, runInDbCallScope } from "./call-scope.js";
import type { DatabaseHealth } from "./health.js";
import { DatabaseUnavailableError } from "./unavailable.js";

/**
 * Bounds how long a call waits on an unreachable database: once a call has run for `timeoutMs`
 * while the database is down (or the database goes down after that), it is answered
 * DatabaseUnavailableError `timeout` at once, and its database work is abandoned (queries not yet
 * sent are dropped, transactions roll back; see call-scope.ts). A call that is merely slow while
 * the database answers is left alone.
 */
export function databaseCallGuard(health: DatabaseHealth, timeoutMs: number) {
  return <T>(fn: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => new GuardedCall(resolve, reject).start(health, timeoutMs, fn));
}

/**
 * One guarded call's state. A class rather than closures made per call: this runs on every call
 * of both apps, and the per-call cost is part of what bench:ratios measures.
 */
class GuardedCall<T> {
  private settled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly scope = new AbandonableCallScope();

  constructor(
    private readonly resolve: (value: T) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  start(health: DatabaseHealth, timeoutMs: number, fn: () => Promise<T>): void {
    this.timer = setTimeout(() => {
      if (!health.available) this.giveUp();
      else this.unsubscribe = health.onChange((up) => up || this.giveUp());
    }, timeoutMs);
    runInDbCallScope(this.scope, fn).then(
      (value) => {
        if (this.finish()) this.resolve(value);
      },
      (e: unknown) => {
        if (this.finish()) this.reject(e);
      },
    );
  }

  /** True for the first of the call's outcomes (its answer, or giving up); later ones are dropped. */
  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.unsubscribe?.();
    return true;
  }

  private giveUp(): void {
    if (!this.finish()) return;
    this.scope.abandon();
    this.reject(new DatabaseUnavailableError("timeout"));
  }
}
