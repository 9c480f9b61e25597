import type { SortOrder } from "@altalune/proto";

/** A list request's query in short: the values of each filter key, and [field, order] to sort by. */
export type ListQueryOver = { keyword?: string; filters?: Record<string, string[]>; sort?: [string, SortOrder]; page?: number; pageSize?: number };

/** The `query` of a Query… request: page 1 of 50, no keyword, no filters and the default sort unless `over` says otherwise. */
export function listQuery(over: ListQueryOver) {
  return {
    pagination: { page: over.page ?? 1, pageSize: over.pageSize ?? 50 },
    keyword: over.keyword ?? "",
    filters: Object.fromEntries(Object.entries(over.filters ?? {}).map(([k, values]) => [k, { values }])),
    ...(over.sort ? { sorting: { field: over.sort[0], order: over.sort[1] } } : {}),
  };
}
