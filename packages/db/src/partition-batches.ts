import type { Queryable } from "./pool.js";

// How ensureAllPartitions (partitions.ts) splits the partitions it creates into batches that stay
// within a share of the server's lock table.

/** One partition to create. */
export interface PartitionTarget {
  table: string;
  projectId: string;
}

/**
 * What creating partitions of `table` locks until commit, as counted in the server's shared lock
 * table. A new partition locks itself (in several modes), its TOAST table and index, one index per
 * index of the parent and the objects of the constraints it inherits; the first partition of a
 * table in a batch also locks the parent, its indexes and the tables its foreign keys reference.
 * Both are counted with a margin (twice the objects); a test checks them against pg_locks.
 */
export interface PartitionLockCost {
  /** Per partition created. */
  perPartition: number;
  /** Once per batch that creates any partition of the table. */
  perBatch: number;
}

export async function partitionLockCosts(sql: Queryable, tables: readonly string[]): Promise<Map<string, PartitionLockCost>> {
  const rows = await sql<{ relname: string; indexes: number; constraints: number }[]>`
    select c.relname,
           (select count(*) from pg_index i where i.indrelid = c.oid)::int as indexes,
           (select count(*) from pg_constraint k where k.conrelid = c.oid)::int as constraints
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relname = any(${tables as string[]}::text[])`;
  const objects = new Map(rows.map((r) => [r.relname, 3 + r.indexes + r.constraints]));
  return new Map(
    tables.map((table) => {
      const perPartition = 2 * (objects.get(table) ?? 3);
      return [table, { perPartition, perBatch: perPartition }];
    }),
  );
}

/**
 * The server's shared lock table holds max_locks_per_transaction × (max_connections +
 * max_prepared_transactions) entries for all sessions together; one transaction may take more
 * than its share, but a provisioning batch that took most of it would make other sessions fail
 * with "out of shared memory". A batch keeps to this fraction of it.
 */
const LOCK_TABLE_FRACTION = 16;

export async function defaultLocksPerBatch(sql: Queryable): Promise<number> {
  const [row] = await sql<{ slots: number }[]>`
    select current_setting('max_locks_per_transaction')::int
           * (current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int) as slots`;
  return Math.floor((row?.slots ?? 0) / LOCK_TABLE_FRACTION);
}

/**
 * Splits the partitions to create into batches whose estimated locks stay within `maxLocks`
 * (a batch always holds at least one partition), in the given order.
 */
export function planPartitionBatches(
  targets: readonly PartitionTarget[],
  costs: ReadonlyMap<string, PartitionLockCost>,
  maxLocks: number,
): PartitionTarget[][] {
  const batches: PartitionTarget[][] = [];
  let batch: PartitionTarget[] = [];
  let tablesInBatch = new Set<string>();
  let locks = 0;
  for (const target of targets) {
    const cost = costs.get(target.table);
    if (cost === undefined) throw new Error(`no lock cost for table ${target.table}`);
    const added = (inBatch: ReadonlySet<string>) => cost.perPartition + (inBatch.has(target.table) ? 0 : cost.perBatch);
    if (batch.length > 0 && locks + added(tablesInBatch) > maxLocks) {
      batches.push(batch);
      batch = [];
      tablesInBatch = new Set();
      locks = 0;
    }
    locks += added(tablesInBatch);
    tablesInBatch.add(target.table);
    batch.push(target);
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
