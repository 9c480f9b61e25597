import { newPublicId } from "@altalune/core";
import { defineListSpec, isUniqueViolation, runListQuery, type ListQuery, type ListResult, type Sql } from "@altalune/db";
import { DEFAULT_USER_ROLE } from "../role/model.js";
import { userAlreadyActive, userAlreadyExists, userAlreadyInactive, userNotFound } from "./errors.js";
import { identityColumns, identityFromRow, userColumns, userFromRow, type UserIdentityRow, type UserRow } from "./mapper.js";
import type { CreateUserInput, UpdateUserInput, User, UserIdentity } from "./model.js";

const EMAIL_UNIQUE = "ux_altalune_users_email";

export const userListSpec = defineListSpec({
  from: "altalune_users",
  columns: userColumns,
  searchable: ["email", "first_name", "last_name"],
  filters: {
    is_active: { kind: "boolean", column: "is_active" },
    isActive: { kind: "boolean", column: "is_active" },
    active: { kind: "boolean", column: "is_active" },
    email: { column: "email" },
  },
  sortable: {
    email: "email",
    firstName: "first_name",
    lastName: "last_name",
    isActive: "is_active",
    createdAt: "created_at",
    updatedAt: "updated_at",
    id: "id",
  },
  defaultSort: { column: "created_at", order: "desc" },
  unknownSortFallback: "created_at",
  tieBreaker: "id",
  catalog: { is_active: { values: ["true", "false"] } },
});

export class UserRepo {
  constructor(private readonly sql: Sql) {}

  async query(query: ListQuery): Promise<ListResult<User>> {
    const result = await runListQuery<UserRow>(this.sql, userListSpec, query);
    return { ...result, rows: result.rows.map(userFromRow) };
  }

  async getByPublicId(publicId: string): Promise<User> {
    const [row] = await this.sql<UserRow[]>`
      select ${this.sql(userColumns)} from altalune_users where public_id = ${publicId}`;
    if (row === undefined) throw userNotFound(publicId);
    return userFromRow(row);
  }

  /** Newest first. */
  async identitiesOf(user: User): Promise<UserIdentity[]> {
    const rows = await this.sql<UserIdentityRow[]>`
      select ${this.sql(identityColumns)} from altalune_user_identities
      where user_id = ${user.id}
      order by created_at desc, id desc`;
    return rows.map(identityFromRow);
  }

  /**
   * An active user with the default global role and a `member` membership in the default project,
   * in one transaction: the user never exists without them. Either may be missing from the
   * database (an operator deleted the role; an unseeded database has no default project); the
   * user is then created without it, as in the original system.
   */
  async create(input: CreateUserInput): Promise<User> {
    try {
      return await this.sql.begin(async (tx) => {
        const [row] = await tx<UserRow[]>`
          insert into altalune_users (public_id, email, first_name, last_name, is_active, activated_at)
          values (${newPublicId()}, ${input.email}, ${input.firstName}, ${input.lastName}, true, CURRENT_TIMESTAMP)
          returning ${tx(userColumns)}`;
        if (row === undefined) throw new Error("insert into altalune_users returned no row");
        await tx`
          insert into altalune_users_roles (user_id, role_id)
          select ${row.id}, id from altalune_roles where lower(name) = ${DEFAULT_USER_ROLE}`;
        await tx`
          insert into altalune_project_members (project_id, user_id, role)
          select id, ${row.id}, 'member' from altalune_projects where is_default`;
        return userFromRow(row);
      });
    } catch (e) {
      if (isUniqueViolation(e, EMAIL_UNIQUE)) throw userAlreadyExists(input.email);
      throw e;
    }
  }

  /** A new address has not been verified: changing the email clears `email_verified`. */
  async update(input: UpdateUserInput): Promise<User> {
    try {
      const [row] = await this.sql<UserRow[]>`
        update altalune_users
        set email = ${input.email}, first_name = ${input.firstName}, last_name = ${input.lastName},
            email_verified = email_verified and email = ${input.email}, updated_at = CURRENT_TIMESTAMP
        where public_id = ${input.publicId}
        returning ${this.sql(userColumns)}`;
      if (row === undefined) throw userNotFound(input.publicId);
      return userFromRow(row);
    } catch (e) {
      if (isUniqueViolation(e, EMAIL_UNIQUE)) throw userAlreadyExists(input.email);
      throw e;
    }
  }

  /** The database cascades roles, permissions, memberships and identities. */
  async delete(publicId: string): Promise<void> {
    const rows = await this.sql`delete from altalune_users where public_id = ${publicId} returning id`;
    if (rows.length === 0) throw userNotFound(publicId);
  }

  /**
   * The state check is part of the UPDATE, so two concurrent activations cannot both succeed.
   * `activated_at` keeps the first activation.
   */
  async activate(publicId: string): Promise<User> {
    const [row] = await this.sql<UserRow[]>`
      update altalune_users
      set is_active = true, activated_at = coalesce(activated_at, CURRENT_TIMESTAMP), updated_at = CURRENT_TIMESTAMP
      where public_id = ${publicId} and not is_active
      returning ${this.sql(userColumns)}`;
    if (row !== undefined) return userFromRow(row);
    await this.getByPublicId(publicId);
    throw userAlreadyActive(publicId);
  }

  async deactivate(publicId: string): Promise<User> {
    const [row] = await this.sql<UserRow[]>`
      update altalune_users
      set is_active = false, updated_at = CURRENT_TIMESTAMP
      where public_id = ${publicId} and is_active
      returning ${this.sql(userColumns)}`;
    if (row !== undefined) return userFromRow(row);
    await this.getByPublicId(publicId);
    throw userAlreadyInactive(publicId);
  }
}
