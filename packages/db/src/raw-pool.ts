import postgres from "postgres";
import type { PostgresNotice, Sql } from "./sql-types.js";

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

/** The postgres.js pool itself, as createPool wraps it and the health probe uses it unwrapped. */
export function rawPool(url: string, opts: PoolOptions): Sql {
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
