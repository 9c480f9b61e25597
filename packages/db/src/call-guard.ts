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
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const scope = new AbandonableCallScope();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let unsubscribe: (() => void) | undefined;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        unsubscribe?.();
      };
      const giveUp = () => {
        if (settled) return;
        finish();
        scope.abandon();
        reject(new DatabaseUnavailableError("timeout"));
      };
      const timer = setTimeout(() => {
        if (!health.available) giveUp();
        else unsubscribe = health.onChange((up) => up || giveUp());
      }, timeoutMs);
      runInDbCallScope(scope, fn).then(
        (value) => {
          if (settled) return;
          finish();
          resolve(value);
        },
        (e: unknown) => {
          if (settled) return;
          finish();
          reject(e);
        },
      );
    });
  };
}
