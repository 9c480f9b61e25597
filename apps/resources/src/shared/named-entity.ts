import { newPublicId, type AppError } from "@altalune/core";
import { auditedWrite, defineListSpec, isUniqueViolation, runListQuery, type ListQuery, type ListResult, type Queryable, type Sql } from "@altalune/db";
import type { Grantor } from "../domains/iam/index.js";

// Roles and permissions are the same kind of record: a case-insensitively unique name, a
// description, and a `system_key` marking the rows the system itself relies on. Protected rows
// (every system permission; the `superadmin` role) can be neither renamed nor deleted: rules,
// claims and built-in look-ups use the key, so no rename can change what they mean. Their tables,
// rules and queries are declared once here; each domain supplies its table, its errors and the
// escalation check for changing a row (domains/iam/delegation.ts).

export interface NamedEntity {
  /** Internal id, for mappings; never leaves the server. */
  id: string;
  publicId: string;
  name: string;
  description: string;
  /** Set on the rows the system relies on (system permissions, built-in roles); never changes. */
  systemKey: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NamedEntityInput {
  name: string;
  description: string;
}

export interface NamedEntityRow {
  id: string;
  public_id: string;
  name: string;
  description: string;
  system_key: string | null;
  created_at: Date;
  updated_at: Date;
}

export const namedEntityColumns = ["id", "public_id", "name", "description", "system_key", "created_at", "updated_at"] as const;

export function namedEntityFromRow(row: NamedEntityRow): NamedEntity {
  return {
    id: row.id,
    publicId: row.public_id,
    name: row.name,
    description: row.description,
    systemKey: row.system_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NamedEntityTable {
  table: string;
  /** The unique index on lower(name). */
  nameUnique: string;
  /** Which system keys are protected (kept exactly as named, never deleted): all of them, or these. */
  protectedKeys: "all" | readonly string[];
  notFound(publicId: string): AppError;
  alreadyExists(name: string): AppError;
  protectedEntity(row: { name: string; systemKey: string }): AppError;
  /** The escalation check for changing or deleting the row, in the writing transaction. */
  refuseChange(tx: Queryable, grantor: Grantor, row: { id: string; publicId: string }): Promise<void>;
}

export class NamedEntityRepo {
  private readonly listSpec;

  constructor(
    private readonly sql: Sql,
    private readonly t: NamedEntityTable,
  ) {
    this.listSpec = defineListSpec({
      from: t.table,
      columns: namedEntityColumns,
      searchable: ["name", "description"],
      filters: { name: { column: "name" } },
      sortable: { name: "name", description: "description", createdAt: "created_at", updatedAt: "updated_at", id: "id" },
      defaultSort: { column: "name", order: "asc" },
      unknownSortFallback: "name",
      tieBreaker: "id",
    });
  }

  async query(query: ListQuery): Promise<ListResult<NamedEntity>> {
    const result = await runListQuery<NamedEntityRow>(this.sql, this.listSpec, query);
    return { ...result, rows: result.rows.map(namedEntityFromRow) };
  }

  async getByPublicId(publicId: string): Promise<NamedEntity> {
    const [row] = await this.sql<NamedEntityRow[]>`
      select ${this.sql(namedEntityColumns)} from ${this.sql(this.t.table)} where public_id = ${publicId}`;
    if (row === undefined) throw this.t.notFound(publicId);
    return namedEntityFromRow(row);
  }

  async create(input: NamedEntityInput): Promise<NamedEntity> {
    try {
      const [row] = await auditedWrite<NamedEntityRow>(
        this.sql,
        this.sql`
          insert into ${this.sql(this.t.table)} (public_id, name, description)
          values (${newPublicId()}, ${input.name}, ${input.description})
          returning ${this.sql(namedEntityColumns)}`,
        "public_id",
      );
      if (row === undefined) throw new Error(`insert into ${this.t.table} returned no row`);
      return namedEntityFromRow(row);
    } catch (e) {
      if (isUniqueViolation(e, this.t.nameUnique)) throw this.t.alreadyExists(input.name);
      throw e;
    }
  }

  /**
   * A protected row keeps its exact name (its description may change). The row is locked while
   * the escalation check reads what it grants, so the check holds for the row that is written.
   */
  async update(input: NamedEntityInput & { publicId: string }, grantor: Grantor): Promise<NamedEntity> {
    try {
      return await this.sql.begin(async (tx) => {
        const current = await this.lock(tx, input.publicId);
        if (this.isProtected(current) && current.name !== input.name) {
          throw this.t.protectedEntity({ name: current.name, systemKey: current.system_key ?? "" });
        }
        await this.t.refuseChange(tx, grantor, { id: current.id, publicId: current.public_id });
        const [row] = await tx<NamedEntityRow[]>`
          update ${tx(this.t.table)}
          set name = ${input.name}, description = ${input.description}, updated_at = CURRENT_TIMESTAMP
          where id = ${current.id}
          returning ${tx(namedEntityColumns)}`;
        if (row === undefined) throw new Error(`update of ${this.t.table} returned no row`);
        return namedEntityFromRow(row);
      });
    } catch (e) {
      if (isUniqueViolation(e, this.t.nameUnique)) throw this.t.alreadyExists(input.name);
      throw e;
    }
  }

  /** Deletes the row; the database cascades its mappings. */
  async delete(publicId: string, grantor: Grantor): Promise<void> {
    await this.sql.begin(async (tx) => {
      const current = await this.lock(tx, publicId);
      if (this.isProtected(current)) throw this.t.protectedEntity({ name: current.name, systemKey: current.system_key ?? "" });
      await this.t.refuseChange(tx, grantor, { id: current.id, publicId: current.public_id });
      await tx`delete from ${tx(this.t.table)} where id = ${current.id}`;
    });
  }

  private async lock(tx: Queryable, publicId: string): Promise<NamedEntityRow> {
    const [row] = await tx<NamedEntityRow[]>`
      select ${tx(namedEntityColumns)} from ${tx(this.t.table)} where public_id = ${publicId} for no key update`;
    if (row === undefined) throw this.t.notFound(publicId);
    return row;
  }

  private isProtected(row: NamedEntityRow): boolean {
    if (row.system_key === null) return false;
    return this.t.protectedKeys === "all" || this.t.protectedKeys.includes(row.system_key);
  }
}
