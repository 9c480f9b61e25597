import { newPublicId } from "@altalune/core";
import { defineListSpec, isUniqueViolation, runListQuery, type ListQuery, type ListResult, type Sql } from "@altalune/db";
import { permissionAlreadyExists, permissionNotFound, permissionProtected } from "./errors.js";
import { permissionColumns, permissionFromRow, type PermissionRow } from "./mapper.js";
import { ROOT_PERMISSION, type CreatePermissionInput, type Permission, type UpdatePermissionInput } from "./model.js";

const NAME_UNIQUE = "ux_altalune_permissions_name";

export const permissionListSpec = defineListSpec({
  from: "altalune_permissions",
  columns: permissionColumns,
  searchable: ["name", "description"],
  filters: { name: { column: "name" } },
  sortable: { name: "name", description: "description", createdAt: "created_at", updatedAt: "updated_at", id: "id" },
  defaultSort: { column: "name", order: "asc" },
  unknownSortFallback: "name",
  tieBreaker: "id",
});

export class PermissionRepo {
  constructor(private readonly sql: Sql) {}

  async query(query: ListQuery): Promise<ListResult<Permission>> {
    const result = await runListQuery<PermissionRow>(this.sql, permissionListSpec, query);
    return { ...result, rows: result.rows.map(permissionFromRow) };
  }

  async getByPublicId(publicId: string): Promise<Permission> {
    const [row] = await this.sql<PermissionRow[]>`
      select ${this.sql(permissionColumns)} from altalune_permissions where public_id = ${publicId}`;
    if (row === undefined) throw permissionNotFound(publicId);
    return permissionFromRow(row);
  }

  async create(input: CreatePermissionInput): Promise<Permission> {
    try {
      const [row] = await this.sql<PermissionRow[]>`
        insert into altalune_permissions (public_id, name, description)
        values (${newPublicId()}, ${input.name}, ${input.description})
        returning ${this.sql(permissionColumns)}`;
      if (row === undefined) throw new Error("insert into altalune_permissions returned no row");
      return permissionFromRow(row);
    } catch (e) {
      if (isUniqueViolation(e, NAME_UNIQUE)) throw permissionAlreadyExists(input.name);
      throw e;
    }
  }

  /**
   * `root` keeps its exact name (its description may change). The guard is part of the UPDATE, so
   * no concurrent change can slip between a check and the write.
   */
  async update(input: UpdatePermissionInput): Promise<Permission> {
    let row: PermissionRow | undefined;
    try {
      [row] = await this.sql<PermissionRow[]>`
        update altalune_permissions
        set name = ${input.name}, description = ${input.description}, updated_at = CURRENT_TIMESTAMP
        where public_id = ${input.publicId} and (lower(name) <> ${ROOT_PERMISSION} or name = ${input.name})
        returning ${this.sql(permissionColumns)}`;
    } catch (e) {
      if (isUniqueViolation(e, NAME_UNIQUE)) throw permissionAlreadyExists(input.name);
      throw e;
    }
    if (row === undefined) throw await this.whyUntouched(input.publicId);
    return permissionFromRow(row);
  }

  /** Deletes the permission; the database cascades its role and user mappings. */
  async delete(publicId: string): Promise<void> {
    const rows = await this.sql`
      delete from altalune_permissions where public_id = ${publicId} and lower(name) <> ${ROOT_PERMISSION} returning id`;
    if (rows.length === 0) throw await this.whyUntouched(publicId);
  }

  /** After a guarded write matched no row: the permission is missing, or it is `root`. */
  private async whyUntouched(publicId: string) {
    const [row] = await this.sql<{ name: string }[]>`select name from altalune_permissions where public_id = ${publicId}`;
    return row === undefined ? permissionNotFound(publicId) : permissionProtected(row.name);
  }
}
