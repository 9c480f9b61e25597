import { isAbandoned, type DbCallScope } from "./call-scope.js";
import { DatabaseUnavailableError } from "./unavailable.js";

/**
 * A counting semaphore in front of the pool: at most `permits` top-level queries and
 * transactions are handed to postgres.js at once (its own queue is unbounded and has no
 * timeout). A waiter gives up after `queueTimeoutMs` (DatabaseUnavailableError `pool_busy`), or
 * when its call is abandoned, and is then never run.
 */
export class Gate {
  private used = 0;
  private readonly waiters: Array<{ grant: () => void }> = [];

  constructor(
    private readonly permits: number,
    private readonly queueTimeoutMs: number,
  ) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** `scope`: the call the permit is for; a waiter gives up when that call is abandoned. */
  acquire(scope?: DbCallScope): Promise<void> {
    if (scope !== undefined && isAbandoned(scope)) return Promise.reject(new DatabaseUnavailableError("timeout"));
    if (this.used < this.permits) {
      this.used++;
      return Promise.resolve();
    }
    const signal = scope?.signal;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          cleanup();
          this.used++;
          resolve();
        },
      };
      const giveUp = (reason: "pool_busy" | "timeout") => {
        cleanup();
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new DatabaseUnavailableError(reason));
      };
      const timer = setTimeout(() => giveUp("pool_busy"), this.queueTimeoutMs);
      const onAbort = () => giveUp("timeout");
      signal?.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      this.waiters.push(waiter);
    });
  }

  release(): void {
    this.used--;
    const next = this.waiters.shift();
    if (next) next.grant();
  }
}
