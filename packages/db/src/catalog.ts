import type { SqlFragment } from "./list-spec.js";
import type { Queryable } from "./pool.js";

/**
 * Names of the tables a catalog query finds in the current schema, sorted. `from` binds the
 * tables' pg_class rows as `c` and, as `n`, the pg_namespace that must be the current schema
 * (the table's own, or its parent's); `where` narrows them further.
 */
export async function currentSchemaTables(q: Queryable, query: { from: SqlFragment; where: SqlFragment }): Promise<string[]> {
  const rows = await q<{ relname: string }[]>`
    select c.relname
    ${query.from}
    where n.nspname = current_schema() and ${query.where}
    order by c.relname`;
  return rows.map((r) => r.relname);
}
