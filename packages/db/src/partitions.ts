import { currentSchemaTables } from "./catalog.js";
import type { Queryable } from "./pool.js";
import { defaultLocksPerBatch, partitionLockCosts, planPartitionBatches, type PartitionTarget } from "./partition-batches.js";

/**
 * Per-project partitions: every table in the current schema that is
 * partitioned BY LIST on exactly one column named `project_id` gets one
 * partition per project, named `<table>_p<projectId>`. The set of tables comes
 * from the catalog, so a migration that adds such a table needs no code change.
 */

export const PARTITION_KEY_COLUMN = "project_id";
export const PROJECTS_TABLE = "altalune_projects";

const MAX_IDENTIFIER_BYTES = 63;
const INT8_MAX = 9223372036854775807n;

/** Tables in the current schema partitioned BY LIST (project_id), sorted by name. */
export async function partitionedTables(sql: Queryable): Promise<string[]> {
  // partattrs is a 0-based int2vector; 0 would mean an expression key.
  // Partitions that are themselves partitioned are skipped: only top-level
  // tables get per-project partitions.
  return currentSchemaTables(sql, {
    from: sql`from pg_partitioned_table pt
      join pg_class c on c.oid = pt.partrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum = pt.partattrs[0]`,
    where: sql`pt.partstrat = 'l' and pt.partnatts = 1 and a.attname = ${PARTITION_KEY_COLUMN} and not c.relispartition`,
  });
}

/**
 * Validates a project id before it is spliced into DDL (partition bounds
 * cannot be bind parameters). Returns its canonical decimal form.
 */
export function projectIdLiteral(projectId: bigint | number | string): string {
  let value: bigint;
  if (typeof projectId === "bigint") {
    value = projectId;
  } else if (typeof projectId === "number") {
    if (!Number.isSafeInteger(projectId)) throw new RangeError(`invalid project id: ${projectId}`);
    value = BigInt(projectId);
  } else {
    if (!/^[0-9]{1,19}$/.test(projectId)) throw new RangeError(`invalid project id: ${JSON.stringify(projectId)}`);
    value = BigInt(projectId);
  }
  if (value < 1n || value > INT8_MAX) throw new RangeError(`invalid project id: ${String(projectId)}`);
  return value.toString();
}

export function partitionName(table: string, projectId: bigint | number | string): string {
  const name = `${table}_p${projectIdLiteral(projectId)}`;
  // Postgres would silently truncate a longer name, and two tables could then
  // map the same project onto one partition name.
  if (Buffer.byteLength(name, "utf8") > MAX_IDENTIFIER_BYTES) {
    throw new RangeError(`partition name ${name} exceeds ${MAX_IDENTIFIER_BYTES} bytes; shorten table ${table}`);
  }
  return name;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function createPartitionSql(table: string, projectId: string): string {
  const id = projectIdLiteral(projectId);
  return `create table if not exists ${quoteIdent(partitionName(table, id))} partition of ${quoteIdent(table)} for values in (${id})`;
}

/**
 * Creates the project's partition of every partitioned table (idempotent), in
 * one round trip. Pass the transaction that inserts the project so both commit
 * together. Note: attaching a partition locks the parent table until commit.
 */
export async function createProjectPartitions(sql: Queryable, projectId: bigint | number | string): Promise<string[]> {
  const id = projectIdLiteral(projectId);
  const tables = await partitionedTables(sql);
  if (tables.length === 0) return [];
  // Without parameters postgres.js sends the simple protocol, which runs several statements.
  await sql.unsafe(tables.map((table) => createPartitionSql(table, id)).join(";\n"));
  return tables.map((table) => partitionName(table, id));
}

interface ForeignKeyEdge {
  referencing: string;
  referenced: string;
}

/** Foreign keys (declared on the parents) whose referenced table is one of `tables`. */
async function foreignKeysInto(sql: Queryable, tables: string[]): Promise<ForeignKeyEdge[]> {
  return sql<ForeignKeyEdge[]>`
    select src.relname as referencing, dst.relname as referenced
    from pg_constraint con
    join pg_class src on src.oid = con.conrelid
    join pg_class dst on dst.oid = con.confrelid
    join pg_namespace n on n.oid = dst.relnamespace
    where con.contype = 'f'
      and con.conparentid = 0
      and n.nspname = current_schema()
      and dst.relname = any(${tables}::text[])`;
}

/** Referencing tables before the tables they reference; cycles fall back to name order. */
function dropOrder(tables: string[], edges: ForeignKeyEdge[]): string[] {
  const pendingReferrers = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const { referencing, referenced } of edges) {
    if (referencing !== referenced && pendingReferrers.has(referencing)) {
      pendingReferrers.get(referenced)?.add(referencing);
    }
  }
  const order: string[] = [];
  while (pendingReferrers.size > 0) {
    const ready = [...pendingReferrers].filter(([, refs]) => refs.size === 0).map(([t]) => t);
    const next = ready.length > 0 ? ready : [...pendingReferrers.keys()];
    for (const table of next) {
      order.push(table);
      pendingReferrers.delete(table);
      for (const refs of pendingReferrers.values()) refs.delete(table);
    }
  }
  return order;
}

/**
 * Drops the project's partitions (idempotent), deleting its rows in every
 * partitioned table. Pass the transaction that deletes the project.
 *
 * A partition of a table that a foreign key points at cannot simply be
 * dropped: the key's per-partition catalog entries belong to the referencing
 * parent, so Postgres refuses (even in one DROP with the referencing
 * partition). Such partitions are detached, which re-checks the key, and then
 * dropped, after the partitions referencing them are gone. Rows that
 * reference their own partition (a self-referencing key) would fail that
 * check, so those partitions are emptied first: O(rows), unlike a drop.
 */
export async function dropProjectPartitions(sql: Queryable, projectId: bigint | number | string): Promise<string[]> {
  const id = projectIdLiteral(projectId);
  const tables = await partitionedTables(sql);
  if (tables.length === 0) return [];
  const edges = await foreignKeysInto(sql, tables);
  const referenced = new Set(edges.map((e) => e.referenced));
  const selfReferencing = new Set(edges.filter((e) => e.referencing === e.referenced).map((e) => e.referenced));
  const dropped: string[] = [];
  for (const table of dropOrder(tables, edges)) {
    const name = partitionName(table, id);
    dropped.push(name);
    if (!referenced.has(table)) {
      await sql.unsafe(`drop table if exists ${quoteIdent(name)}`);
      continue;
    }
    const [row] = await sql<{ attached: boolean }[]>`
      select exists (
        select 1 from pg_inherits i
        where i.inhrelid = to_regclass(${quoteIdent(name)}) and i.inhparent = to_regclass(${quoteIdent(table)})
      ) as attached`;
    if (!row?.attached) {
      await sql.unsafe(`drop table if exists ${quoteIdent(name)}`);
      continue;
    }
    if (selfReferencing.has(table)) await sql.unsafe(`delete from ${quoteIdent(name)}`);
    await sql.unsafe(`alter table ${quoteIdent(table)} detach partition ${quoteIdent(name)}`);
    await sql.unsafe(`drop table ${quoteIdent(name)}`);
  }
  return dropped.sort();
}

export interface EnsurePartitionsOptions {
  /** Upper bound on the locks one batch holds until it commits. Default: defaultLocksPerBatch. */
  maxLocksPerBatch?: number;
}

/**
 * Creates any missing partition for every existing project, e.g. after a
 * migration added a partitioned table. A no-op until the projects table exists.
 * Returns the names of the partitions it created.
 *
 * Partitions are created in batches, each one multi-statement round trip that
 * commits on its own (when `sql` is a pool; inside a caller's transaction all
 * batches share it, and its locks). Batching saves the round trip and commit
 * per partition, not the server's own work, which grows with what exists
 * (PostgreSQL 15, profiled): each CREATE … PARTITION OF rebuilds the parent's
 * partition descriptor, parsing every sibling's bound (O(partitions of the
 * parent)), and CloneFkReferenced seq-scans all of pg_constraint (O(constraints
 * in the database), whether or not a key references the parent). A batch in
 * one transaction saves only the commits, which matter while few partitions
 * exist. Numbers: docs/architecture.md, bench/RESULTS.md (`bench:search
 * --cases growth`).
 */
export async function ensureAllPartitions(sql: Queryable, opts: EnsurePartitionsOptions = {}): Promise<string[]> {
  const [exists] = await sql<{ ok: boolean }[]>`select to_regclass(${PROJECTS_TABLE}) is not null as ok`;
  if (!exists?.ok) return [];
  const tables = await partitionedTables(sql);
  if (tables.length === 0) return [];
  const projects = await sql<{ id: string }[]>`select id::text as id from ${sql(PROJECTS_TABLE)} order by id`;
  const existing = new Set(
    (
      await sql<{ relname: string }[]>`
        select child.relname
        from pg_inherits i
        join pg_class child on child.oid = i.inhrelid
        join pg_namespace n on n.oid = child.relnamespace
        where n.nspname = current_schema()`
    ).map((r) => r.relname),
  );
  // Table by table: a batch then locks few parents.
  const missing: PartitionTarget[] = [];
  for (const table of tables) {
    for (const { id } of projects) {
      if (!existing.has(partitionName(table, id))) missing.push({ table, projectId: id });
    }
  }
  if (missing.length === 0) return [];
  const maxLocks = opts.maxLocksPerBatch ?? (await defaultLocksPerBatch(sql));
  const batches = planPartitionBatches(missing, await partitionLockCosts(sql, tables), maxLocks);
  for (const batch of batches) {
    await sql.unsafe(batch.map((t) => createPartitionSql(t.table, t.projectId)).join(";\n"));
  }
  return missing.map((t) => partitionName(t.table, t.projectId));
}

export { defaultLocksPerBatch, partitionLockCosts, planPartitionBatches, type PartitionLockCost, type PartitionTarget } from "./partition-batches.js";
