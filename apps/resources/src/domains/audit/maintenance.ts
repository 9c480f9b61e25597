import type { Logger } from "@altalune/core";
import { runAuditMaintenance, type Sql } from "@altalune/db";

/** Hourly: months are created three ahead, so a run that fails is retried long before it matters. */
export const AUDIT_MAINTENANCE_INTERVAL_MS = 60 * 60_000;

export interface AuditMaintenanceJob {
  /** Stops the timer and waits for a run in progress (before the pool closes). */
  stop(): Promise<void>;
}

/**
 * The audit log's periodic job in the Resources API (like the auth server's purge loop): create
 * the months ahead, drop the months past AUDIT_RETENTION_DAYS. Runs at start and then every
 * interval; every replica runs it and the advisory lock lets one do the work.
 */
export function startAuditMaintenance(sql: Sql, opts: { retentionDays: number; logger: Logger; intervalMs?: number }): AuditMaintenanceJob {
  const log = opts.logger;
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= runAuditMaintenance(sql, { retentionDays: opts.retentionDays })
      .then(
        ({ created, dropped, failed, skipped }) => {
          if (created.length + dropped.length > 0) log.info({ created, dropped }, "audit log partitions maintained");
          else if (skipped) log.debug({}, "audit log maintenance: another replica holds the lock");
          if (failed.length > 0) log.warn({ failed }, "audit log months past the retention could not be dropped; retrying at the next interval");
        },
        (e: unknown) => log.warn({ err: e }, "audit log maintenance failed; retrying at the next interval"),
      )
      .finally(() => {
        running = undefined;
      });
  };
  run();
  const timer = setInterval(run, opts.intervalMs ?? AUDIT_MAINTENANCE_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
