import { create } from "@bufbuild/protobuf";
import type { ListQuery, ListResult } from "@altalune/db";
import { QueryMetaResponseSchema, SortOrder, type QueryMetaResponse, type QueryRequest } from "@altalune/proto";

export const DEFAULT_PAGE_SIZE = 10;

/** A proto QueryRequest as the list engine's input; an absent query means page 1 of 10. */
export function listQueryFromProto(query: QueryRequest | undefined): ListQuery {
  if (query === undefined) return { page: 1, pageSize: DEFAULT_PAGE_SIZE };
  const filters: Record<string, string[]> = {};
  for (const [key, list] of Object.entries(query.filters)) {
    if (list.values.length > 0) filters[key] = list.values;
  }
  return {
    page: query.pagination?.page ?? 1,
    pageSize: query.pagination?.pageSize ?? DEFAULT_PAGE_SIZE,
    keyword: query.keyword,
    filters,
    ...(query.sorting !== undefined && query.sorting.field !== ""
      ? { sort: { field: query.sorting.field, order: query.sorting.order === SortOrder.DESC ? "desc" : "asc" } }
      : {}),
  };
}

export function queryMetaToProto(result: Pick<ListResult<unknown>, "rowCount" | "pageCount" | "filters">): QueryMetaResponse {
  return create(QueryMetaResponseSchema, {
    rowCount: result.rowCount,
    pageCount: result.pageCount,
    filters: Object.fromEntries(Object.entries(result.filters).map(([key, values]) => [key, { values }])),
  });
}
