import type { AppError } from "@altalune/core";
import { runListQuery, type ListQuery, type ListResult, type ListSpec, type ListSpecInput, type RunListOptions, type SortOrder, type Sql } from "@altalune/db";

/** The catalog values of a boolean filter. */
export const BOOLEAN_VALUES: readonly string[] = ["true", "false"];

/**
 * A list's order when the query names none: `column` (or `unknownSortFallback` for a sort field the
 * list does not know, with the order asked for), ties broken by `id` so pages never overlap.
 */
export function orderedBy(
  column: string,
  order: SortOrder,
  unknownSortFallback: string = column,
): Pick<ListSpecInput, "defaultSort" | "unknownSortFallback" | "tieBreaker"> {
  return { defaultSort: { column, order }, unknownSortFallback, tieBreaker: "id" };
}

/**
 * The two reads every table of a domain answers alike, over its list spec (its table and
 * columns): a page of the list, and one row by public id (`notFound` when there is none), each
 * row turned into the domain's model.
 */
export function tableReads<Row extends object, T>(spec: ListSpec, fromRow: (row: Row) => T, notFound: (publicId: string) => AppError) {
  return {
    async query(sql: Sql, query: ListQuery, options?: RunListOptions): Promise<ListResult<T>> {
      const result = await runListQuery<Row>(sql, spec, query, options);
      return { ...result, rows: result.rows.map((row) => fromRow(row)) };
    },

    async byPublicId(sql: Sql, publicId: string): Promise<T> {
      const [row] = await sql<Row[]>`select ${sql(spec.columns)} from ${sql(spec.from)} where public_id = ${publicId}`;
      if (row === undefined) throw notFound(publicId);
      return fromRow(row);
    },
  };
}

/**
 * The base class of a repo over one table: its `query` and `getByPublicId` are the table's two
 * reads over the connection the repo is built with; the domain's class adds its writes.
 */
export function tableRepo<Row extends object, T>(spec: ListSpec, fromRow: (row: Row) => T, notFound: (publicId: string) => AppError) {
  const reads = tableReads(spec, fromRow, notFound);
  return class {
    constructor(protected readonly sql: Sql) {}

    query(query: ListQuery): Promise<ListResult<T>> {
      return reads.query(this.sql, query);
    }

    getByPublicId(publicId: string): Promise<T> {
      return reads.byPublicId(this.sql, publicId);
    }
  };
}
