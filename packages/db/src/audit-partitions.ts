import { tryAdvisoryXactLock } from "./advisory-lock.js";
import { AUDIT_EVENTS_TABLE } from "./audit-writer.js";
import { currentSchemaTables } from "./catalog.js";
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
  const names = await currentSchemaTables(q, {
    from: q`from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent
      join pg_namespace n on n.oid = p.relnamespace`,
    where: q`p.relname = ${AUDIT_EVENTS_TABLE}`,
  });
  const out: AuditPartition[] = [];
  for (const relname of names) {
    const match = PARTITION_NAME.exec(relname);
    if (match === null) continue;
    const from = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
    out.push({ name: relname, from, to: utcMonth(from, 1) });
  }
  return out;
}

/**
 * Creates the missing monthly partitions from the month of `from` (default: `now`) through
 * `monthsAhead` months after `now`'s. Returns the names created. A month is made as a table of
 * its own and then attached: ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on the parent,
 * which does not conflict with the inserts of audited calls (CREATE … PARTITION OF would take
 * ACCESS EXCLUSIVE and queue every writer behind any open transaction on the table). The CHECK
 * of the month's bounds lets the attach skip its validation scan.
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
    const [from, to] = [boundLiteral(month), boundLiteral(utcMonth(month, 1))];
    const [table, parent] = [quoteIdent(name), quoteIdent(AUDIT_EVENTS_TABLE)];
    await q.unsafe(
      `create table ${table} (like ${parent} including defaults including constraints, ` +
        `constraint ${quoteIdent(`${name}_bounds`)} check (occurred_at >= ${from} and occurred_at < ${to}))`,
    );
    await q.unsafe(`alter table ${parent} attach partition ${table} for values from (${from}) to (${to})`);
    // Redundant once attached (the partition bound says the same).
    await q.unsafe(`alter table ${table} drop constraint ${quoteIdent(`${name}_bounds`)}`);
    created.push(name);
  }
  return created;
}

/** The partitions whose every row is older than `retentionDays` at `now` (the month ended before the cut-off). */
export async function expiredAuditPartitions(q: Queryable, opts: { now?: Date; retentionDays: number }): Promise<AuditPartition[]> {
  const now = opts.now ?? new Date();
  const cutoff = now.getTime() - opts.retentionDays * 86_400_000;
  return (await auditPartitions(q)).filter((p) => p.to.getTime() <= cutoff);
}

/**
 * Drops the expired partitions: rows are kept at least `retentionDays`, and at most a month
 * longer. Returns the names dropped.
 */
export async function dropExpiredAuditPartitions(q: Queryable, opts: { now?: Date; retentionDays: number }): Promise<string[]> {
  const dropped: string[] = [];
  for (const partition of await expiredAuditPartitions(q, opts)) {
    await q.unsafe(`drop table ${quoteIdent(partition.name)}`);
    dropped.push(partition.name);
  }
  return dropped;
}

export interface AuditMaintenanceResult {
  created: string[];
  dropped: string[];
  /** Months that could not be dropped this time (tried again at the next run), with the reason. */
  failed: { name: string; error: string }[];
  /** Another replica held the lock: this run did nothing. */
  skipped: boolean;
}

/**
 * The periodic job, under a transaction-scoped advisory lock so replicas running it at the same
 * moment do the work once. Creating the months ahead comes first and in its own transaction, so
 * a month that cannot be dropped (a lock it cannot get, an object depending on it) never keeps
 * the future months from existing. Each expired month is then dropped in its own short
 * transaction: a DROP needs ACCESS EXCLUSIVE on the parent, so it waits at most `lockTimeoutMs`
 * (busy with writes, it is tried again at the next run rather than queueing every writer behind it).
 */
export async function runAuditMaintenance(
  sql: Sql,
  opts: { retentionDays: number; now?: Date; monthsAhead?: number; lockTimeoutMs?: number },
): Promise<AuditMaintenanceResult> {
  const now = opts.now ?? new Date();
  const lockTimeout = `${opts.lockTimeoutMs ?? 100}ms`;
  const created = await sql.begin(async (tx) => {
    if (!(await tryAdvisoryXactLock(tx, AUDIT_MAINTENANCE_LOCK))) return undefined;
    await tx`select set_config('lock_timeout', ${lockTimeout}, true)`;
    return ensureAuditPartitions(tx, { now, ...(opts.monthsAhead === undefined ? {} : { monthsAhead: opts.monthsAhead }) });
  });
  if (created === undefined) return { created: [], dropped: [], failed: [], skipped: true };
  const dropped: string[] = [];
  const failed: { name: string; error: string }[] = [];
  for (const partition of await expiredAuditPartitions(sql, { now, retentionDays: opts.retentionDays })) {
    try {
      const done = await sql.begin(async (tx) => {
        if (!(await tryAdvisoryXactLock(tx, AUDIT_MAINTENANCE_LOCK))) return false;
        await tx`select set_config('lock_timeout', ${lockTimeout}, true)`;
        await tx.unsafe(`drop table if exists ${quoteIdent(partition.name)}`);
        return true;
      });
      if (done) dropped.push(partition.name);
    } catch (e) {
      failed.push({ name: partition.name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { created, dropped, failed, skipped: false };
}
