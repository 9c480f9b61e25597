import { newPublicId, type AppError } from "@altalune/core";
import { defineListSpec, isUniqueViolation, runListQuery, type ListQuery, type ListResult, type Sql } from "@altalune/db";

// Roles and permissions are the same kind of record: a case-insensitively unique name, a
// description, and one protected name (`superadmin`, `root`) that can be neither renamed nor
// deleted. Their tables, rules and queries are declared once here; each domain supplies its table
// and its errors.

export interface NamedEntity {
  /** Internal id, for mappings; never leaves the server. */
  id: string;
  publicId: string;
  name: string;
  description: string;
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
  created_at: Date;
  updated_at: Date;
}

export const namedEntityColumns = ["id", "public_id", "name", "description", "created_at", "updated_at"] as const;

export function namedEntityFromRow(row: NamedEntityRow): NamedEntity {
  return {
    id: row.id,
    publicId: row.public_id,
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NamedEntityTable {
  table: string;
  /** The unique index on lower(name). */
  nameUnique: string;
  /** Lower-case name that keeps its exact spelling and cannot be deleted. */
  protectedName: string;
  notFound(publicId: string): AppError;
  alreadyExists(name: string): AppError;
  protectedEntity(name: string): AppError;
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
      const [row] = await this.sql<NamedEntityRow[]>`
        insert into ${this.sql(this.t.table)} (public_id, name, description)
        values (${newPublicId()}, ${input.name}, ${input.description})
        returning ${this.sql(namedEntityColumns)}`;
      if (row === undefined) throw new Error(`insert into ${this.t.table} returned no row`);
      return namedEntityFromRow(row);
    } catch (e) {
      if (isUniqueViolation(e, this.t.nameUnique)) throw this.t.alreadyExists(input.name);
      throw e;
    }
  }

  /**
   * The protected entity keeps its exact name (its description may change). The guard is part of
   * the UPDATE, so no concurrent change can slip between a check and the write.
   */
  async update(input: NamedEntityInput & { publicId: string }): Promise<NamedEntity> {
    let row: NamedEntityRow | undefined;
    try {
      [row] = await this.sql<NamedEntityRow[]>`
        update ${this.sql(this.t.table)}
        set name = ${input.name}, description = ${input.description}, updated_at = CURRENT_TIMESTAMP
        where public_id = ${input.publicId} and (lower(name) <> ${this.t.protectedName} or name = ${input.name})
        returning ${this.sql(namedEntityColumns)}`;
    } catch (e) {
      if (isUniqueViolation(e, this.t.nameUnique)) throw this.t.alreadyExists(input.name);
      throw e;
    }
    if (row === undefined) throw await this.whyUntouched(input.publicId);
    return namedEntityFromRow(row);
  }

  /** Deletes the row; the database cascades its mappings. */
  async delete(publicId: string): Promise<void> {
    const rows = await this.sql`
      delete from ${this.sql(this.t.table)}
      where public_id = ${publicId} and lower(name) <> ${this.t.protectedName} returning id`;
    if (rows.length === 0) throw await this.whyUntouched(publicId);
  }

  /** After a guarded write matched no row: it is missing, or it is the protected one. */
  private async whyUntouched(publicId: string): Promise<AppError> {
    const [row] = await this.sql<{ name: string }[]>`
      select name from ${this.sql(this.t.table)} where public_id = ${publicId}`;
    return row === undefined ? this.t.notFound(publicId) : this.t.protectedEntity(row.name);
  }
}
