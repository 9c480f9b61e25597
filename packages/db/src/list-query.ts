import type postgres from "postgres";
import { quoteIdent } from "./partitions.js";
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
const TOTAL_COLUMN = "__list_total";
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_IDENTIFIER_BYTES = 63;

function assertIdentifier(name: string, what: string): string {
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

const SEARCH_SEPARATOR = "\x1f";

/** Escapes LIKE metacharacters so the keyword matches literally (`ESCAPE '\'`). */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function join(sql: Queryable, items: readonly SqlFragment[], separator: SqlFragment): SqlFragment | undefined {
  return items.reduce<SqlFragment | undefined>((acc, item) => (acc ? sql`${acc}${separator}${item}` : item), undefined);
}

// Fragments joined by hand: postgres.js' array helper picks its behaviour from
// the SQL keyword preceding it, which is too implicit for generated SQL.
// Callers only pass lists the spec guarantees non-empty.
function commaList(sql: Queryable, items: readonly SqlFragment[]): SqlFragment {
  const list = join(sql, items, sql`, `);
  if (list === undefined) throw new Error("list query: empty SQL list");
  return list;
}

function and(sql: Queryable, conditions: readonly SqlFragment[]): SqlFragment {
  return join(sql, conditions.map((c) => sql`(${c})`), sql` and `) ?? sql`true`;
}

/**
 * Undefined for no conditions, which callers skip (an empty OR would match
 * nothing). Callers AND the result, which parenthesizes it.
 */
function or(sql: Queryable, conditions: readonly SqlFragment[]): SqlFragment | undefined {
  return join(sql, conditions.map((c) => sql`(${c})`), sql` or `);
}

function scopeConditions(
  sql: Queryable,
  spec: ListSpec,
  scope: Readonly<Record<string, ScopeValue>> | undefined,
  qualifier?: string,
): SqlFragment[] {
  const given = scope ?? {};
  for (const key of Object.keys(given)) {
    if (!spec.scope.includes(key)) throw new TypeError(`list query: ${key} is not a scope column of ${spec.from}`);
  }
  return spec.scope.map((column) => {
    const value = Object.hasOwn(given, column) ? given[column] : undefined;
    // A missing scope value would silently list every tenant's rows.
    if (value === undefined || value === null) {
      throw new TypeError(`list query: scope ${column} is required for ${spec.from}`);
    }
    // Bound as text: the pool has no bigint serializer, and the server casts
    // the parameter to the column's type anyway.
    const bound = typeof value === "bigint" ? value.toString() : value;
    return qualifier ? sql`${sql(qualifier)}.${sql(column)} = ${bound}` : sql`${sql(column)} = ${bound}`;
  });
}

/**
 * The text a keyword is searched in: the searchable columns joined by U+001F (unit separator),
 * `(coalesce(a::text, '') || E'\x1f' || coalesce(b::text, ''))`. One ILIKE over this document
 * matches exactly what per-column ILIKEs ORed together would (a keyword never contains the
 * separator: it is removed), costs one pattern match per row instead of one per column, and can
 * be served by one trigram index created on the same expression (see migrations/0006).
 */
export function searchDocumentSql(columns: readonly string[]): string {
  return `(${columns.map((c) => `coalesce(${quoteIdent(assertIdentifier(c, "searchable"))}::text, '')`).join(` || E'\\x1f' || `)})`;
}

function keywordCondition(sql: Queryable, spec: ListSpec, keyword: string | undefined): SqlFragment | undefined {
  const trimmed = keyword?.replaceAll(SEARCH_SEPARATOR, "").trim() ?? "";
  if (trimmed === "" || spec.searchable.length === 0) return undefined;
  const pattern = `%${escapeLikePattern(trimmed)}%`;
  // The document's SQL is built only from the spec's validated identifiers.
  return sql`${sql.unsafe(searchDocumentSql(spec.searchable))} ilike ${pattern} escape '\\'`;
}

function filterConditions(sql: Queryable, spec: ListSpec, filters: ListQuery["filters"]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const [key, values] of Object.entries(filters ?? {})) {
    const def = spec.filters.get(key);
    if (def === undefined || values.length === 0) continue;
    switch (def.kind) {
      case "text": {
        const lowered = [...new Set(values.map((v) => v.toLowerCase()))];
        conditions.push(sql`lower(${sql(def.column)}::text) = any(${lowered}::text[])`);
        break;
      }
      case "boolean": {
        const wanted = [...new Set(values.map((v) => ["true", "1"].includes(v.trim().toLowerCase())))];
        // Scalars rather than one array parameter: postgres.js declares a JS
        // boolean array with its element's type, and sql.array() only fixes
        // that once the pool has fetched the server's array types.
        conditions.push(sql`${sql(def.column)} in (${commaList(sql, wanted.map((b) => sql`${b}`))})`);
        break;
      }
      case "computed": {
        const builders = [...new Set(values.map((v) => def.values.get(v.trim().toLowerCase())))].filter(
          (b): b is ConditionBuilder => b !== undefined,
        );
        const condition = or(sql, builders.map((build) => build(sql)));
        if (condition) conditions.push(condition);
        break;
      }
    }
  }
  return conditions;
}

function resolveSort(spec: ListSpec, sort: ListQuery["sort"]): { column: string; order: SortOrder } {
  const field = sort?.field.trim() ?? "";
  if (sort === undefined || field === "") return spec.defaultSort;
  return { column: spec.sortable.get(field) ?? spec.unknownSortFallback, order: sort.order };
}

function orderBy(sql: Queryable, columns: readonly string[], order: SortOrder, qualifier?: string): SqlFragment {
  const direction = order === "desc" ? sql`desc` : sql`asc`;
  const terms = columns.map((column) =>
    qualifier ? sql`${sql(qualifier)}.${sql(column)} ${direction}` : sql`${sql(column)} ${direction}`,
  );
  return commaList(sql, terms);
}

function assertPagination(query: ListQuery): void {
  if (!Number.isSafeInteger(query.page) || query.page < 1) {
    throw new RangeError(`list query: invalid page ${query.page}`);
  }
  if (!Number.isSafeInteger(query.pageSize) || query.pageSize < 1) {
    throw new RangeError(`list query: invalid page size ${query.pageSize}`);
  }
}

function visibilityCondition(sql: Queryable, spec: ListSpec, visible: RunListOptions["visibleOnly"]): SqlFragment[] {
  if (visible === undefined) return [];
  if (!spec.columns.includes(visible.column)) {
    throw new TypeError(`list query: ${visible.column} is not a column of ${spec.from}`);
  }
  return [sql`${sql(visible.column)}::text = any(${sql.array([...visible.values])}::text[])`];
}

interface PageWindow {
  orderColumns: readonly string[];
  order: SortOrder;
  limit: number;
  offset: number;
}

type PageRow<Row> = Row & Record<typeof TOTAL_COLUMN, number>;

/**
 * The page and the full total in one pass over the matching rows: `count(*) over ()` is computed
 * over every match before LIMIT applies. The window keeps only the sort columns (it buffers
 * every match), and the page's rows are then read back by key — the scope's constants and the
 * tie-breaker, unique within the scope — so the read-back prunes to the same partition at plan
 * time. Reading the matches once instead of twice (a count and a page) halves the work of a
 * keyword search (bench/RESULTS.md, issue 13). Past the end it yields no row.
 */
function windowPage<Row>(
  sql: Queryable,
  spec: ListSpec,
  where: SqlFragment,
  readBackScope: readonly SqlFragment[],
  page: PageWindow,
): Promise<PageRow<Row>[]> {
  const { orderColumns, order, limit, offset } = page;
  return sql<PageRow<Row>[]>`
    select ${commaList(sql, spec.columns.map((c) => sql`t.${sql(c)}`))}, page.${sql(TOTAL_COLUMN)}
    from (
      select ${commaList(sql, orderColumns.map((c) => sql`${sql(c)}`))}, count(*) over ()::int as ${sql(TOTAL_COLUMN)}
      from ${sql(spec.from)}
      where ${where}
      order by ${orderBy(sql, orderColumns, order)}
      limit ${limit} offset ${offset}
    ) as page
    join ${sql(spec.from)} as t on ${and(sql, [...readBackScope, sql`t.${sql(spec.tieBreaker)} = page.${sql(spec.tieBreaker)}`])}
    order by ${orderBy(sql, orderColumns, order, "page")}`;
}

/**
 * The page beside a total that `counted` caps: the total is the driving side of the join, so an
 * empty page still yields one row carrying it. NOT MATERIALIZED inlines `filtered` into both
 * uses, so each gets the scope condition (partition pruning) and the page can use an index for
 * ORDER BY … LIMIT without reading every match. The outer ORDER BY restores the page order,
 * which a join does not promise to keep.
 */
function cappedPage<Row>(
  sql: Queryable,
  spec: ListSpec,
  where: SqlFragment,
  counted: SqlFragment,
  page: PageWindow,
): Promise<PageRow<Row>[]> {
  const { orderColumns, order, limit, offset } = page;
  const selected = [...new Set([...spec.columns, ...orderColumns])];
  return sql<PageRow<Row>[]>`
    with filtered as not materialized (
      select ${commaList(sql, selected.map((c) => sql`${sql(c)}`))}
      from ${sql(spec.from)}
      where ${where}
    )
    select ${commaList(sql, spec.columns.map((c) => sql`page.${sql(c)}`))},
      total.${sql(TOTAL_COLUMN)}
    from (select count(*)::int as ${sql(TOTAL_COLUMN)} from ${counted}) as total
    left join (
      select * from filtered
      order by ${orderBy(sql, orderColumns, order)}
      limit ${limit} offset ${offset}
    ) as page on true
    order by ${orderBy(sql, orderColumns, order, "page")}`;
}

/**
 * Runs a list query: the page and the total in one statement, and the
 * data-driven catalog entries (if any) in a second one, concurrently. A page
 * past the end of the list costs a third statement: the total alone.
 */
export async function runListQuery<Row extends object = Record<string, unknown>>(
  sql: Queryable,
  spec: ListSpec,
  query: ListQuery,
  options: RunListOptions = {},
): Promise<ListResult<Row>> {
  assertPagination(query);
  const scope = [...scopeConditions(sql, spec, options.scope), ...visibilityCondition(sql, spec, options.visibleOnly)];
  const keyword = keywordCondition(sql, spec, query.keyword);
  const where = and(sql, [...scope, ...(options.conditions ?? []), ...(keyword ? [keyword] : []), ...filterConditions(sql, spec, query.filters)]);
  const limit = options.countLimit;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new RangeError(`list query: invalid count limit ${limit}`);

  const sort = resolveSort(spec, query.sort);
  const orderColumns = [...new Set([sort.column, spec.tieBreaker])];
  const offset = (query.page - 1) * query.pageSize;
  const page = { orderColumns, order: sort.order, limit: query.pageSize, offset };

  const pageQuery =
    limit === undefined
      ? windowPage<Row>(sql, spec, where, scopeConditions(sql, spec, options.scope, "t"), page)
      : cappedPage<Row>(sql, spec, where, sql`(select 1 from filtered limit ${limit + 1}) as counted`, page);
  const [found, catalog] = await Promise.all([pageQuery, loadCatalog(sql, spec, scope)]);
  // A window yields no row past the end of the list, so its total is then counted on its own.
  const result =
    limit === undefined && found.length === 0 && offset > 0
      ? await sql<Record<typeof TOTAL_COLUMN, number>[]>`
          select count(*)::int as ${sql(TOTAL_COLUMN)} from ${sql(spec.from)} where ${where}`
      : found;

  const matched = result[0]?.[TOTAL_COLUMN] ?? 0;
  const countCapped = limit !== undefined && matched > limit;
  const rowCount = countCapped ? limit : matched;
  // Past the end the single row is the join's NULL padding, not data. Past a capped count the
  // total does not say where the end is: the padding row is the one whose columns are all NULL.
  const pastEnd = countCapped
    ? offset >= rowCount && result.length === 1 && spec.columns.every((c) => (result[0] as Record<string, unknown>)[c] === null)
    : offset >= rowCount;
  const rows: Row[] = pastEnd ? [] : found.map(({ [TOTAL_COLUMN]: _total, ...row }) => row as unknown as Row);
  return {
    rows,
    rowCount,
    pageCount: rowCount === 0 ? 0 : Math.ceil(rowCount / query.pageSize),
    filters: catalog,
    ...(limit === undefined ? {} : { countCapped }),
  };
}

async function loadCatalog(
  sql: Queryable,
  spec: ListSpec,
  scope: readonly SqlFragment[],
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const distinct: { key: string; column: string; indexed: boolean }[] = [];
  for (const entry of spec.catalog) {
    if ("values" in entry) out[entry.key] = [...entry.values];
    else distinct.push({ key: entry.key, column: entry.distinct, indexed: entry.indexed });
  }
  if (distinct.length === 0) return out;

  // Positional aliases: catalog keys are free-form strings, not identifiers.
  const selects = distinct.map(({ column, indexed }, i) => {
    const col = sql(column);
    const where = and(sql, [...scope, sql`${col} is not null`]);
    const values = indexed
      ? sql`
        with recursive walk(v) as (
          (select ${col} from ${sql(spec.from)} where ${where} order by ${col} limit 1)
          union all
          select (select ${col} from ${sql(spec.from)} where ${and(sql, [...scope, sql`${col} > walk.v`])} order by ${col} limit 1)
          from walk where walk.v is not null
        )
        select v from walk where v is not null`
      : sql`select distinct ${col} as v from ${sql(spec.from)} where ${where}`;
    return sql`(select coalesce(array_agg(d.v::text order by d.v), '{}') from (${values}) as d) as ${sql(`c${i}`)}`;
  });
  const [row] = await sql<Record<string, string[]>[]>`select ${commaList(sql, selects)}`;
  distinct.forEach(({ key }, i) => {
    out[key] = row?.[`c${i}`] ?? [];
  });
  return out;
}
