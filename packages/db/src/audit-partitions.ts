import { tryAdvisoryXactLock } from "./advisory-lock.js";
import { AUDIT_EVENTS_TABLE } from "./audit-writer.js";
import { quoteIdent } from "./partitions.js";
import type { Queryable, Sql } from "./pool.js";

// The audit log's monthly partitions (migration 0019): `altalune_audit_events_YYYYMM` holds the
// UTC month [YYYY-MM-01, next month). Months are created ahead of time, so a write never finds
// its month missing, and dropped whole once the retention has passed (a DROP, not a DELETE).

/** Months created ahead of the current one. */
export const AUDIT_MONTHS_AHEAD = 3;
/** The advisory lock of the maintenance job (one replica at a time). */
export const AUDIT_MAINTENANCE_LOCK = "altalune_audit_events:maintenance";

const PARTITION_NAME = /^altalune_audit_events_(\d{4})(\d{2})$/;

export interface AuditPartition {
  name: string;
  /** First instant of the month (UTC). */
  from: Date;
  /** First instant of the next month: the partition holds rows before it. */
  to: Date;
}

function utcMonth(at: Date, offset = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1));
}

function monthName(month: Date): string {
  return `${AUDIT_EVENTS_TABLE}_${month.getUTCFullYear()}${String(month.getUTCMonth() + 1).padStart(2, "0")}`;
}

function boundLiteral(month: Date): string {
  return `'${month.toISOString().slice(0, 10)} 00:00:00+00'`;
}

/** The partitions of the audit table that follow the naming (others are left alone), oldest first. */
export async function auditPartitions(q: Queryable): Promise<AuditPartition[]> {
  const rows = await q<{ relname: string }[]>`
    select c.relname
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent
    join pg_namespace n on n.oid = p.relnamespace
    where n.nspname = current_schema() and p.relname = ${AUDIT_EVENTS_TABLE}
    order by c.relname`;
  const out: AuditPartition[] = [];
  for (const { relname } of rows) {
    const match = PARTITION_NAME.exec(relname);
    if (match === null) continue;
    const from = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
    out.push({ name: relname, from, to: utcMonth(from, 1) });
  }
  return out;
}

/**
 * Creates the missing monthly partitions from the month of `from` (default: `now`) through
 * `monthsAhead` months after `now`'s. Returns the names created. Creating a partition locks the
 * parent table until commit: run it in a short transaction.
 */
export async function ensureAuditPartitions(
  q: Queryable,
  opts: { now?: Date; from?: Date; monthsAhead?: number } = {},
): Promise<string[]> {
  const now = opts.now ?? new Date();
  const first = utcMonth(opts.from ?? now);
  const last = utcMonth(now, opts.monthsAhead ?? AUDIT_MONTHS_AHEAD);
  const existing = new Set((await auditPartitions(q)).map((p) => p.name));
  const created: string[] = [];
  for (let month = first; month <= last; month = utcMonth(month, 1)) {
    const name = monthName(month);
    if (existing.has(name)) continue;
    // Bounds are dates made here, never input; the name is derived from them.
    await q.unsafe(
      `create table if not exists ${quoteIdent(name)} partition of ${quoteIdent(AUDIT_EVENTS_TABLE)} ` +
        `for values from (${boundLiteral(month)}) to (${boundLiteral(utcMonth(month, 1))})`,
    );
    created.push(name);
  }
  return created;
}

/**
 * Drops the partitions whose every row is older than `retentionDays` at `now` (the month ended
 * before the cut-off): rows are kept at least that long, and at most a month longer. Returns the
 * names dropped.
 */
export async function dropExpiredAuditPartitions(q: Queryable, opts: { now?: Date; retentionDays: number }): Promise<string[]> {
  const now = opts.now ?? new Date();
  const cutoff = now.getTime() - opts.retentionDays * 86_400_000;
  const dropped: string[] = [];
  for (const partition of await auditPartitions(q)) {
    if (partition.to.getTime() > cutoff) continue;
    await q.unsafe(`drop table ${quoteIdent(partition.name)}`);
    dropped.push(partition.name);
  }
  return dropped;
}

export interface AuditMaintenanceResult {
  created: string[];
  dropped: string[];
  /** Another replica held the lock: this run did nothing. */
  skipped: boolean;
}

/**
 * The periodic job: months ahead created, expired months dropped, in one short transaction
 * under a transaction-scoped advisory lock, so replicas running it at the same moment do the
 * work once. The DDL waits at most `lockTimeoutMs` for the table (busy with writes, it is tried
 * again at the next run rather than queueing every writer behind it).
 */
export async function runAuditMaintenance(
  sql: Sql,
  opts: { retentionDays: number; now?: Date; monthsAhead?: number; lockTimeoutMs?: number },
): Promise<AuditMaintenanceResult> {
  return sql.begin(async (tx) => {
    if (!(await tryAdvisoryXactLock(tx, AUDIT_MAINTENANCE_LOCK))) return { created: [], dropped: [], skipped: true };
    await tx`select set_config('lock_timeout', ${`${opts.lockTimeoutMs ?? 2000}ms`}, true)`;
    const now = opts.now ?? new Date();
    const created = await ensureAuditPartitions(tx, { now, ...(opts.monthsAhead === undefined ? {} : { monthsAhead: opts.monthsAhead }) });
    const dropped = await dropExpiredAuditPartitions(tx, { now, retentionDays: opts.retentionDays });
    return { created, dropped, skipped: false };
  });
}
