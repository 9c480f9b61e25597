import { AsyncLocalStorage } from "node:async_hooks";
import type { AuditEventRecord } from "@altalune/core";
import { auditInsertAfter, writeAuditEvent } from "./audit-writer.js";
import type { SqlFragment } from "./list-query.js";
import type { Queryable, TransactionSql } from "./pool.js";

/**
 * The audit event of one RPC call while its handler runs (packages/rpc/src/call-audit.ts opens
 * it). It is written exactly once, with the change:
 * - by `auditedWrite`, as a CTE of the change's own statement (one round trip), or
 * - by runTransaction, as the last statement before COMMIT of the first transaction of the call
 *   that commits (transaction.ts);
 * so a change never commits without its row, and a row never commits without its change. A
 * transaction that rolls back (or is retried) takes its row with it, and the event is pending
 * again. A call whose handler wrote nothing in either way (an audited read, a mutation that
 * changed nothing) has its row written by the caller afterwards (`written` tells).
 */
export class PendingAuditEvent {
  private state: "pending" | "staged" | "written" = "pending";
  private openTransactions = 0;
  private writtenWithChange = false;
  private readonly extraTags = new Set<string>();
  /** Tags added while a transaction attempt is open: they stand only if it commits. */
  private readonly attemptTags = new Set<string>();
  private described: AuditEventRecord | undefined;

  /**
   * `describe` is called once, when the row is first needed: what the call knows by then (the
   * caller, once the auth step ran). `separate` runs the row's own statement when the change
   * carried none (normally the pool).
   */
  constructor(
    private readonly describe: () => AuditEventRecord,
    private readonly separate: Queryable,
  ) {}

  get written(): boolean {
    return this.state === "written";
  }

  /** True when the row went in with the change (its statement or its transaction), not separately. */
  get withChange(): boolean {
    return this.writtenWithChange;
  }

  /** Runs the handler with this event as the call's pending one. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return storage.run(this, fn);
  }

  addTags(tags: readonly string[]): void {
    const into = this.openTransactions > 0 ? this.attemptTags : this.extraTags;
    for (const tag of tags) into.add(tag);
  }

  record(): AuditEventRecord {
    const described = (this.described ??= this.describe());
    if (this.extraTags.size === 0 && this.attemptTags.size === 0) return described;
    return { ...described, tags: [...new Set([...(described.tags ?? []), ...this.extraTags, ...this.attemptTags])] };
  }

  /** Writes the row in its own statement, once (the caller's path for calls that wrote nothing). */
  async writeSeparately(record?: AuditEventRecord): Promise<void> {
    if (this.state !== "pending") return;
    await writeAuditEvent(this.separate, record ?? this.record());
    this.state = "written";
  }

  get isPending(): boolean {
    return this.state === "pending";
  }

  /** @internal runTransaction: an attempt begins. */
  transactionStarted(): void {
    this.openTransactions++;
  }

  /** @internal runTransaction: before COMMIT, the row if nothing in the transaction wrote it yet. */
  async beforeCommit(tx: TransactionSql): Promise<void> {
    if (this.state !== "pending") return;
    await writeAuditEvent(tx, this.record());
    this.state = "staged";
  }

  /** @internal runTransaction: the attempt committed, or rolled back (its row went with it). */
  transactionEnded(committed: boolean): void {
    this.openTransactions--;
    if (this.openTransactions === 0) {
      // A rolled-back (or retried) attempt's decisions did not happen: neither did its tags.
      if (committed) for (const tag of this.attemptTags) this.extraTags.add(tag);
      this.attemptTags.clear();
    }
    if (this.state !== "staged") return;
    this.state = committed ? "written" : "pending";
    if (committed) this.writtenWithChange = true;
  }

  /** @internal auditedWrite: the row went in with a statement of the change. */
  wroteWithStatement(): void {
    if (this.openTransactions > 0) {
      this.state = "staged";
      return;
    }
    this.state = "written";
    this.writtenWithChange = true;
  }
}

const storage = new AsyncLocalStorage<PendingAuditEvent>();

/** What the pipeline opens per audited call (packages/rpc CallAuditorOptions.open). */
export function callAuditEvents(sql: Queryable): (describe: () => AuditEventRecord) => PendingAuditEvent {
  return (describe) => new PendingAuditEvent(describe, sql);
}

/** The pending audit event of the call this code runs for, if any (and not yet written). */
export function currentPendingAudit(): PendingAuditEvent | undefined {
  const event = storage.getStore();
  return event?.isPending ? event : undefined;
}

/**
 * Adds tags to the audit event of the current call: a domain naming what kind of security event
 * the call is ("redirect_uris_changed", ...), before the statement or transaction that writes it
 * ends. Outside an audited call (seed, CLI) it does nothing.
 */
export function tagAuditEvent(...tags: string[]): void {
  storage.getStore()?.addTags(tags);
}

/**
 * Runs one data-modifying statement (`insert … returning`, `update … returning`, `delete …
 * returning`) with the call's audit row in the same statement, as a CTE: the row is written
 * exactly when the statement returns a row, in the same round trip. `target` names a returned
 * column holding the target's public id (for a create, the id just made). Outside an audited
 * call, or once the call's row is written, the statement runs as it is.
 */
export async function auditedWrite<Row extends object>(q: Queryable, statement: SqlFragment, target?: string): Promise<Row[]> {
  const event = currentPendingAudit();
  if (event === undefined) return (await statement) as unknown as Row[];
  const rows = (await q`
    with written as (${statement}),
    audited as (${auditInsertAfter(q, event.record(), "written", target)})
    select * from written`) as unknown as Row[];
  if (rows.length > 0) event.wroteWithStatement();
  return rows;
}
