import type postgres from "postgres";
import { quoteIdent } from "./partitions.js";
import type { Queryable } from "./pool.js";
import { assertIdentifier, type SortOrder, type ListQuery, type SqlFragment, type ConditionBuilder, type ListSpec, type ScopeValue, type RunListOptions } from "./list-spec.js";

// The SQL pieces of a list query (packages/db/src/list-query.ts): scope, keyword, filter and
// visibility conditions, sort and pagination checks; identifiers only from the spec.
const SEARCH_SEPARATOR = "\x1f";

/** Escapes LIKE metacharacters so the keyword matches literally (`ESCAPE '\'`). */
export function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function join(sql: Queryable, items: readonly SqlFragment[], separator: SqlFragment): SqlFragment | undefined {
  return items.reduce<SqlFragment | undefined>((acc, item) => (acc ? sql`${acc}${separator}${item}` : item), undefined);
}

// Fragments joined by hand: postgres.js' array helper picks its behaviour from
// the SQL keyword preceding it, which is too implicit for generated SQL.
// Callers only pass lists the spec guarantees non-empty.
export function commaList(sql: Queryable, items: readonly SqlFragment[]): SqlFragment {
  const list = join(sql, items, sql`, `);
  if (list === undefined) throw new Error("list query: empty SQL list");
  return list;
}

export function and(sql: Queryable, conditions: readonly SqlFragment[]): SqlFragment {
  return join(sql, conditions.map((c) => sql`(${c})`), sql` and `) ?? sql`true`;
}

/**
 * Undefined for no conditions, which callers skip (an empty OR would match
 * nothing). Callers AND the result, which parenthesizes it.
 */
export function or(sql: Queryable, conditions: readonly SqlFragment[]): SqlFragment | undefined {
  return join(sql, conditions.map((c) => sql`(${c})`), sql` or `);
}

export function scopeConditions(
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

export function keywordCondition(sql: Queryable, spec: ListSpec, keyword: string | undefined): SqlFragment | undefined {
  const trimmed = keyword?.replaceAll(SEARCH_SEPARATOR, "").trim() ?? "";
  if (trimmed === "" || spec.searchable.length === 0) return undefined;
  const pattern = `%${escapeLikePattern(trimmed)}%`;
  // The document's SQL is built only from the spec's validated identifiers.
  return sql`${sql.unsafe(searchDocumentSql(spec.searchable))} ilike ${pattern} escape '\\'`;
}

export function filterConditions(sql: Queryable, spec: ListSpec, filters: ListQuery["filters"]): SqlFragment[] {
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

export function resolveSort(spec: ListSpec, sort: ListQuery["sort"]): { column: string; order: SortOrder } {
  const field = sort?.field.trim() ?? "";
  if (sort === undefined || field === "") return spec.defaultSort;
  return { column: spec.sortable.get(field) ?? spec.unknownSortFallback, order: sort.order };
}

export function orderBy(sql: Queryable, columns: readonly string[], order: SortOrder, qualifier?: string): SqlFragment {
  const direction = order === "desc" ? sql`desc` : sql`asc`;
  const terms = columns.map((column) =>
    qualifier ? sql`${sql(qualifier)}.${sql(column)} ${direction}` : sql`${sql(column)} ${direction}`,
  );
  return commaList(sql, terms);
}

export function assertPagination(query: ListQuery): void {
  if (!Number.isSafeInteger(query.page) || query.page < 1) {
    throw new RangeError(`list query: invalid page ${query.page}`);
  }
  if (!Number.isSafeInteger(query.pageSize) || query.pageSize < 1) {
    throw new RangeError(`list query: invalid page size ${query.pageSize}`);
  }
}

export function visibilityCondition(sql: Queryable, spec: ListSpec, visible: RunListOptions["visibleOnly"]): SqlFragment[] {
  if (visible === undefined) return [];
  if (!spec.columns.includes(visible.column)) {
    throw new TypeError(`list query: ${visible.column} is not a column of ${spec.from}`);
  }
  return [sql`${sql(visible.column)}::text = any(${sql.array([...visible.values])}::text[])`];
}
