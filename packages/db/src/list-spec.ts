import type postgres from "postgres";
import type { Queryable } from "./pool.js";

/**
 * The generic engine behind every `Query*` RPC: a domain-neutral list query
 * plus a per-domain spec become one SQL statement for the page and its total,
 * and (when the spec has data-driven catalog entries) one more for the values
 * clients can offer as filters.
 *
 * Safety rule: SQL identifiers only ever come from the spec, which is declared
 * in code and validated once by `defineListSpec`; everything a client sends is
 * either looked up in the spec's maps (and dropped when absent) or bound as a
 * parameter.
 */
export type SortOrder = "asc" | "desc";

/** A list request with the proto's defaults already applied by the caller. */
export interface ListQuery {
  /** 1-based. */
  page: number;
  pageSize: number;
  keyword?: string | undefined;
  /** Per key: any of the values; across keys: all. */
  filters?: Readonly<Record<string, readonly string[]>> | undefined;
  /** `field` as the client sent it, camelCase or snake_case. */
  sort?: { field: string; order: SortOrder } | undefined;
}

export interface ListResult<Row> {
  rows: Row[];
  rowCount: number;
  pageCount: number;
  /** The spec's catalog: values a client can offer per filter. */
  filters: Record<string, string[]>;
  /** With `countLimit`: more rows matched than were counted (rowCount is then the limit). */
  countCapped?: boolean;
}

/** What `sql\`…\`` returns; used as a condition inside the engine's statement. */
export type SqlFragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * Builds one SQL condition of a computed filter. Receives the executing `sql`
 * so the fragment can bind parameters (e.g. a threshold) and joins the
 * caller's transaction. The SQL text is spec-owned; no client value reaches it.
 */
export type ConditionBuilder = (sql: Queryable) => SqlFragment;

export type FilterSpec =
  /** `lower(column) = ANY(lowered values)`. */
  | { kind?: "text"; column: string }
  /** "true"/"1" (any case) mean true, any other value false. */
  | { kind: "boolean"; column: string }
  /**
   * Each accepted value (matched case-insensitively) maps to a condition; the
   * requested ones are ORed. Unknown values are ignored, as in the original
   * system; if none is known the key adds no condition.
   */
  | { kind: "computed"; values: Readonly<Record<string, ConditionBuilder>> };

export type CatalogSpec =
  /** Fixed values, returned as given. */
  | { values: readonly string[] }
  /**
   * Sorted DISTINCT non-null values of a column within the scope, as text. `indexed: true` reads
   * them with a loose index scan (one index probe per distinct value, a recursive CTE) instead of
   * reading every row: declare it only with a btree index on (scope columns…, column), since
   * without one each step would scan the table.
   */
  | { distinct: string; indexed?: boolean };

/** A domain's list declaration; every string except map keys is a column name. */
export interface ListSpecInput {
  /** Table (optionally `schema.table`). */
  from: string;
  /**
   * Columns every query is restricted to by equality, e.g. `["project_id"]`
   * for a table partitioned by project. `runListQuery` then requires a value
   * for each, and these conditions come first so the planner prunes partitions.
   */
  scope?: readonly string[];
  columns: readonly string[];
  /** Keyword: case-insensitive substring match, ORed across these columns. Without any, the keyword is ignored. */
  searchable?: readonly string[];
  /** Filter key as clients send it (aliases allowed) to its definition. */
  filters?: Readonly<Record<string, FilterSpec>>;
  /** camelCase sort field to column; the snake_case spelling is accepted too. */
  sortable: Readonly<Record<string, string>>;
  /** Used when the query has no sort. */
  defaultSort: { column: string; order: SortOrder };
  /** Used, with the requested order, when the sort field is unknown. */
  unknownSortFallback: string;
  /** Appended to every ORDER BY, in the same direction, so pages are stable. */
  tieBreaker: string;
  catalog?: Readonly<Record<string, CatalogSpec>>;
}

type NormalizedFilter =
  | { kind: "text"; column: string }
  | { kind: "boolean"; column: string }
  | { kind: "computed"; values: ReadonlyMap<string, ConditionBuilder> };

type NormalizedCatalog = { key: string; values: readonly string[] } | { key: string; distinct: string; indexed: boolean };

declare const validated: unique symbol;

/**
 * A validated spec; only `defineListSpec` makes one. Client-supplied names are
 * looked up in Maps, so keys such as `__proto__` or `constructor` find nothing.
 */
export interface ListSpec {
  readonly from: string;
  readonly scope: readonly string[];
  readonly columns: readonly string[];
  readonly searchable: readonly string[];
  readonly filters: ReadonlyMap<string, NormalizedFilter>;
  readonly sortable: ReadonlyMap<string, string>;
  readonly defaultSort: { readonly column: string; readonly order: SortOrder };
  readonly unknownSortFallback: string;
  readonly tieBreaker: string;
  readonly catalog: readonly NormalizedCatalog[];
  readonly [validated]: true;
}

export type ScopeValue = string | number | bigint;

export interface RunListOptions {
  /** A value for each of the spec's scope columns (and no other key). */
  scope?: Readonly<Record<string, ScopeValue>>;
  /**
   * Only rows whose `column` is one of `values` are visible (rows, total and catalog), e.g. the
   * projects a caller is a member of. An empty list shows nothing.
   */
  visibleOnly?: { column: string; values: readonly string[] };
  /**
   * More conditions, ANDed: built by the caller's code with bound values (e.g. a time range),
   * never from SQL text a client sent. They restrict the rows and the total, not the catalog.
   */
  conditions?: readonly SqlFragment[];
  /**
   * Count at most this many rows: the total of a big table costs a scan of every match, so past
   * the limit rowCount is the limit and `countCapped` is true.
   */
  countLimit?: number;
}

/** Result column carrying the total; stripped before rows are returned. */
export const TOTAL_COLUMN = "__list_total";
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_IDENTIFIER_BYTES = 63;

export function assertIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name) || Buffer.byteLength(name, "utf8") > MAX_IDENTIFIER_BYTES || name === TOTAL_COLUMN) {
    throw new TypeError(`list spec: invalid ${what} identifier ${JSON.stringify(name)}`);
  }
  return name;
}

function camelToSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Validates a domain's list declaration. Throws on a malformed spec, so a
 * mistake surfaces when the module loads rather than on the first request.
 */
export function defineListSpec(input: ListSpecInput): ListSpec {
  const fromParts = input.from.split(".");
  if (fromParts.length > 2) throw new TypeError(`list spec: invalid table ${JSON.stringify(input.from)}`);
  fromParts.forEach((part) => assertIdentifier(part, "table"));

  if (input.columns.length === 0) throw new TypeError("list spec: no columns");
  const columns = [...new Set(input.columns)].map((c) => assertIdentifier(c, "column"));
  const scope = [...new Set(input.scope ?? [])].map((c) => assertIdentifier(c, "scope"));
  const searchable = [...new Set(input.searchable ?? [])].map((c) => assertIdentifier(c, "searchable"));

  const filters = new Map<string, NormalizedFilter>();
  for (const [key, def] of Object.entries(input.filters ?? {})) {
    if (def.kind === "computed") {
      const values = new Map<string, ConditionBuilder>();
      for (const [value, build] of Object.entries(def.values)) {
        const normalized = value.trim().toLowerCase();
        if (values.has(normalized)) throw new TypeError(`list spec: filter ${key} declares ${normalized} twice`);
        values.set(normalized, build);
      }
      filters.set(key, { kind: "computed", values });
    } else {
      filters.set(key, { kind: def.kind ?? "text", column: assertIdentifier(def.column, `filter ${key}`) });
    }
  }

  const sortable = new Map<string, string>();
  for (const [field, column] of Object.entries(input.sortable)) {
    assertIdentifier(column, `sort ${field}`);
    for (const spelling of new Set([field, camelToSnake(field)])) {
      const existing = sortable.get(spelling);
      if (existing !== undefined && existing !== column) {
        throw new TypeError(`list spec: sort field ${spelling} maps to both ${existing} and ${column}`);
      }
      sortable.set(spelling, column);
    }
  }

  const catalog: NormalizedCatalog[] = Object.entries(input.catalog ?? {}).map(([key, def]) =>
    "distinct" in def
      ? { key, distinct: assertIdentifier(def.distinct, `catalog ${key}`), indexed: def.indexed === true }
      : { key, values: [...def.values] },
  );

  const spec: Omit<ListSpec, typeof validated> = {
    from: input.from,
    scope,
    columns,
    searchable,
    filters,
    sortable,
    defaultSort: {
      column: assertIdentifier(input.defaultSort.column, "default sort"),
      order: input.defaultSort.order,
    },
    unknownSortFallback: assertIdentifier(input.unknownSortFallback, "sort fallback"),
    tieBreaker: assertIdentifier(input.tieBreaker, "tie-breaker"),
    catalog,
  };
  return spec as ListSpec;
}
