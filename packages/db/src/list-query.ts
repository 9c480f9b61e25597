import type { Queryable } from "./pool.js";
import { and, assertPagination, commaList, filterConditions, keywordCondition, orderBy, resolveSort, scopeConditions, visibilityCondition } from "./list-conditions.js";
import { TOTAL_COLUMN, type SortOrder, type ListQuery, type ListResult, type SqlFragment, type ListSpec, type RunListOptions } from "./list-spec.js";

// The list engine's one entry point; its spec and its SQL pieces live beside it.
export { escapeLikePattern, searchDocumentSql } from "./list-conditions.js";
export { defineListSpec, type SortOrder, type ListQuery, type ListResult, type SqlFragment, type ConditionBuilder, type FilterSpec, type CatalogSpec, type ListSpecInput, type ListSpec, type ScopeValue, type RunListOptions } from "./list-spec.js";

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
