import postgres from "postgres";
import type { Queryable } from "./pool.js";

export type PgErrorKind =
  | "unique_violation"
  | "foreign_key_violation"
  | "check_violation"
  | "not_null_violation"
  | "invalid_text"
  | "other";

export interface PgErrorInfo {
  kind: PgErrorKind;
  /** The SQLSTATE, e.g. "23505". */
  code: string;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
}

const KIND_BY_SQLSTATE: Readonly<Record<string, PgErrorKind>> = {
  "23505": "unique_violation",
  "23503": "foreign_key_violation",
  "23514": "check_violation",
  "23502": "not_null_violation",
  "22P02": "invalid_text",
};

interface PostgresErrorFields {
  code: string;
  constraint_name?: string | undefined;
  table_name?: string | undefined;
  column_name?: string | undefined;
  detail?: string | undefined;
}

/**
 * `instanceof` alone is not enough: test runners and bundlers can load two
 * copies of postgres.js, whose PostgresError classes differ. The error's name
 * and string `code` identify it just as well.
 */
function asPostgresError(e: unknown): PostgresErrorFields | undefined {
  if (e instanceof postgres.PostgresError) return e;
  if (e instanceof Error && e.name === "PostgresError" && "code" in e && typeof e.code === "string") {
    return e as Error & PostgresErrorFields;
  }
  return undefined;
}

/** Classifies a postgres.js error; undefined for anything that is not one. */
export function classifyPgError(e: unknown): PgErrorInfo | undefined {
  const pg = asPostgresError(e);
  if (!pg) return undefined;
  const info: PgErrorInfo = { kind: KIND_BY_SQLSTATE[pg.code] ?? "other", code: pg.code };
  if (pg.constraint_name) info.constraint = pg.constraint_name;
  if (pg.table_name) info.table = pg.table_name;
  if (pg.column_name) info.column = pg.column_name;
  if (pg.detail) info.detail = pg.detail;
  return info;
}

function isKind(e: unknown, kind: PgErrorKind, constraint?: string): boolean {
  const info = classifyPgError(e);
  if (!info || info.kind !== kind) return false;
  return constraint === undefined || info.constraint === constraint;
}

/** True for 23505; when `constraint` is given, only for that constraint. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  return isKind(e, "unique_violation", constraint);
}

/** True for 23503; when `constraint` is given, only for that constraint. */
export function isForeignKeyViolation(e: unknown, constraint?: string): boolean {
  return isKind(e, "foreign_key_violation", constraint);
}

/** True for 23514; when `constraint` is given, only for that constraint. */
export function isCheckViolation(e: unknown, constraint?: string): boolean {
  return isKind(e, "check_violation", constraint);
}

/** True for 23502; when `column` is given, only for that column. */
export function isNotNullViolation(e: unknown, column?: string): boolean {
  const info = classifyPgError(e);
  if (!info || info.kind !== "not_null_violation") return false;
  return column === undefined || info.column === column;
}

/** True for 22P02, e.g. a malformed uuid or integer literal. */
export function isInvalidTextRepresentation(e: unknown): boolean {
  return isKind(e, "invalid_text");
}

/**
 * The index a unique violation names, resolved to its top-level parent. On a partitioned table
 * PostgreSQL names the partition's own index (e.g. `altalune_example_employees_p5_project_id_lower_idx`),
 * which no code can know in advance; its parent is the index the migration created. One catalog
 * lookup, on the error path only. Run it outside the failed transaction.
 */
export async function violatedUniqueIndex(sql: Queryable, e: unknown): Promise<string | undefined> {
  const info = classifyPgError(e);
  if (info?.kind !== "unique_violation" || info.constraint === undefined) return undefined;
  const [row] = await sql<{ relname: string }[]>`
    with recursive chain(oid, relname, depth) as (
      select c.oid, c.relname, 0 from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      where c.relname = ${info.constraint} and n.nspname = current_schema()
      union all
      select p.oid, p.relname, chain.depth + 1 from chain
      join pg_inherits i on i.inhrelid = chain.oid
      join pg_class p on p.oid = i.inhparent
    )
    select relname from chain order by depth desc limit 1`;
  return row?.relname ?? info.constraint;
}

/** Whether `e` violates `index` (the parent index's name, also for violations on a partition). */
export async function isUniqueViolationOf(sql: Queryable, e: unknown, index: string): Promise<boolean> {
  return (await violatedUniqueIndex(sql, e)) === index;
}

/**
 * Failures that say "the database cannot be reached or is going away", not "this statement is
 * wrong": retrying the call later may succeed. They are answered Unavailable (60014), never
 * Internal. Driver codes are postgres.js's (CONNECTION_*, CONNECT_TIMEOUT) and node's socket
 * errors; SQLSTATEs are admin shutdown and crash recovery (57P01–57P03), the connection class
 * (08xxx) and too many connections (53300).
 */
const UNAVAILABLE_DRIVER_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03", "53300"]);

/** Serialization failure and deadlock: the transaction was rolled back and may simply be run again. */
const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(["40001", "40P01"]);

export type TransientKind = "unavailable" | "conflict";

/** Classifies a failure as transient (see above), or undefined for every other error. */
export function transientKind(e: unknown): TransientKind | undefined {
  const pg = asPostgresError(e);
  if (pg) {
    if (RETRYABLE_SQLSTATES.has(pg.code)) return "conflict";
    if (UNAVAILABLE_SQLSTATES.has(pg.code) || pg.code.startsWith("08")) return "unavailable";
    return undefined;
  }
  if (e instanceof Error && "code" in e && typeof e.code === "string" && UNAVAILABLE_DRIVER_CODES.has(e.code)) return "unavailable";
  // net.connect with several addresses (localhost → ::1 and 127.0.0.1) fails with an AggregateError.
  if (e instanceof AggregateError) return e.errors.some((inner) => transientKind(inner) === "unavailable") ? "unavailable" : undefined;
  return undefined;
}

export const isDatabaseUnavailableError = (e: unknown): boolean => transientKind(e) === "unavailable";
export const isRetryableConflict = (e: unknown): boolean => transientKind(e) === "conflict";
