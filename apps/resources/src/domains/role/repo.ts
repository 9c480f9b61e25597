import { newPublicId } from "@altalune/core";
import { defineListSpec, isUniqueViolation, runListQuery, type ListQuery, type ListResult, type Sql } from "@altalune/db";
import { roleAlreadyExists, roleNotFound, roleProtected } from "./errors.js";
import { roleColumns, roleFromRow, type RoleRow } from "./mapper.js";
import { SUPERADMIN_ROLE, type CreateRoleInput, type Role, type UpdateRoleInput } from "./model.js";

const NAME_UNIQUE = "ux_altalune_roles_name";

export const roleListSpec = defineListSpec({
  from: "altalune_roles",
  columns: roleColumns,
  searchable: ["name", "description"],
  filters: { name: { column: "name" } },
  sortable: { name: "name", description: "description", createdAt: "created_at", updatedAt: "updated_at", id: "id" },
  defaultSort: { column: "name", order: "asc" },
  unknownSortFallback: "name",
  tieBreaker: "id",
});

export class RoleRepo {
  constructor(private readonly sql: Sql) {}

  async query(query: ListQuery): Promise<ListResult<Role>> {
    const result = await runListQuery<RoleRow>(this.sql, roleListSpec, query);
    return { ...result, rows: result.rows.map(roleFromRow) };
  }

  async getByPublicId(publicId: string): Promise<Role> {
    const [row] = await this.sql<RoleRow[]>`
      select ${this.sql(roleColumns)} from altalune_roles where public_id = ${publicId}`;
    if (row === undefined) throw roleNotFound(publicId);
    return roleFromRow(row);
  }

  async create(input: CreateRoleInput): Promise<Role> {
    try {
      const [row] = await this.sql<RoleRow[]>`
        insert into altalune_roles (public_id, name, description)
        values (${newPublicId()}, ${input.name}, ${input.description})
        returning ${this.sql(roleColumns)}`;
      if (row === undefined) throw new Error("insert into altalune_roles returned no row");
      return roleFromRow(row);
    } catch (e) {
      if (isUniqueViolation(e, NAME_UNIQUE)) throw roleAlreadyExists(input.name);
      throw e;
    }
  }

  /**
   * The protected role keeps its exact name (its description may change). The guard is part of
   * the UPDATE, so no concurrent change can slip between a check and the write.
   */
  async update(input: UpdateRoleInput): Promise<Role> {
    let row: RoleRow | undefined;
    try {
      [row] = await this.sql<RoleRow[]>`
        update altalune_roles
        set name = ${input.name}, description = ${input.description}, updated_at = CURRENT_TIMESTAMP
        where public_id = ${input.publicId} and (lower(name) <> ${SUPERADMIN_ROLE} or name = ${input.name})
        returning ${this.sql(roleColumns)}`;
    } catch (e) {
      if (isUniqueViolation(e, NAME_UNIQUE)) throw roleAlreadyExists(input.name);
      throw e;
    }
    if (row === undefined) throw await this.whyUntouched(input.publicId);
    return roleFromRow(row);
  }

  /** Deletes the role; the database cascades its user and permission mappings. */
  async delete(publicId: string): Promise<void> {
    const rows = await this.sql`
      delete from altalune_roles where public_id = ${publicId} and lower(name) <> ${SUPERADMIN_ROLE} returning id`;
    if (rows.length === 0) throw await this.whyUntouched(publicId);
  }

  /** After a guarded write matched no row: the role is missing, or it is the protected one. */
  private async whyUntouched(publicId: string) {
    const [row] = await this.sql<{ name: string }[]>`select name from altalune_roles where public_id = ${publicId}`;
    return row === undefined ? roleNotFound(publicId) : roleProtected(row.name);
  }
}
