import { newPublicId, SECURITY_TAG } from "@altalune/core";
import { auditedWrite, defineListSpec, isUniqueViolation, tagAuditEvent, type TransactionSql } from "@altalune/db";
import {
  lockProjectsOwnedBy,
  lockSuperadminRole,
  ownedProjectIds,
  refuseChangingUser,
  refuseLastOwnerOf,
  refuseLastSuperadmin,
  type Grantor,
} from "../iam/index.js";
import { DEFAULT_USER_ROLE } from "../role/index.js";
import { userAlreadyActive, userAlreadyExists, userAlreadyInactive, userNotFound } from "./errors.js";
import { identityColumns, identityFromRow, userColumns, userFromRow, type UserIdentityRow, type UserRow } from "./mapper.js";
import { decideEmailChange } from "./email-change.js";
import type { CreatedUser, CreateUserInput, MissingDefault, UpdatedUser, UpdateUserInput, User, UserIdentity } from "./model.js";
import { BOOLEAN_VALUES, orderedBy, tableRepo } from "../../shared/table-reads.js";

const EMAIL_UNIQUE = "ux_altalune_users_email";

/** Thrown inside a deletion attempt that must start over, so that attempt rolls back. */
class DeletionRetry extends Error {}
const DELETE_ATTEMPTS = 5;

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
  ...orderedBy("created_at", "desc"),
  catalog: { is_active: { values: BOOLEAN_VALUES } },
});

export class UserRepo extends tableRepo(userListSpec, userFromRow, userNotFound) {
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
   * in one transaction: when both exist, the user never exists without them. Either may be
   * missing from the database (an operator deleted the `user` role, which is not protected; an
   * unseeded database has no default project). The user is then still created, as in the
   * original system, and `missing` says what was left out so the caller can warn: refusing would
   * make CreateUser unusable until someone recreates the role, for a gap an operator can close
   * afterwards (recreate the role or seed, then AssignUserRoles / AssignProjectMembers).
   */
  async create(input: CreateUserInput): Promise<CreatedUser> {
    try {
      return await this.sql.begin(async (tx) => {
        const [row] = await auditedWrite<UserRow>(
          tx,
          tx`
            insert into altalune_users (public_id, email, first_name, last_name, is_active, activated_at)
            values (${newPublicId()}, ${input.email}, ${input.firstName}, ${input.lastName}, true, CURRENT_TIMESTAMP)
            returning ${tx(userColumns)}`,
          "public_id",
        );
        if (row === undefined) throw new Error("insert into altalune_users returned no row");
        const role = await tx`
          insert into altalune_users_roles (user_id, role_id)
          select ${row.id}, id from altalune_roles where system_key = ${DEFAULT_USER_ROLE}
          returning role_id`;
        const membership = await tx`
          insert into altalune_project_members (project_id, user_id, role)
          select id, ${row.id}, 'member' from altalune_projects where is_default
          returning project_id`;
        const missing: MissingDefault[] = [];
        if (role.length === 0) missing.push("user_role");
        if (membership.length === 0) missing.push("default_project");
        return { user: userFromRow(row), missing };
      });
    } catch (e) {
      if (isUniqueViolation(e, EMAIL_UNIQUE)) throw userAlreadyExists(input.email);
      throw e;
    }
  }

  /**
   * Names change at once; the email only through a confirmed change (email-change.ts): a
   * different address becomes pending_email, and `email` and `email_verified` stay as they are.
   */
  async update(input: UpdateUserInput, grantor: Grantor): Promise<UpdatedUser> {
    return this.sql.begin(async (tx) => {
      const [current] = await tx<{ id: string; email: string; pending_email: string | null }[]>`
        select id, email, pending_email from altalune_users where public_id = ${input.publicId} for update`;
      if (current === undefined) throw userNotFound(input.publicId);
      // With the row locked: the escalation check holds for the user that is written.
      await refuseChangingUser(tx, grantor, { id: current.id, publicId: input.publicId });
      const decision = await decideEmailChange(tx, current, input.email);
      if (decision.outcome === "requested") tagAuditEvent(SECURITY_TAG, "email_change_requested");
      // What the requester holds bounds the confirmation (the user may be promoted meanwhile).
      const ceiling = decision.outcome === "requested" && !grantor.root ? [...grantor.permissions].sort() : null;
      const [row] = await tx<UserRow[]>`
        update altalune_users
        set first_name = ${input.firstName}, last_name = ${input.lastName}, pending_email = ${decision.pendingEmail},
            pending_email_ceiling = ${decision.pendingEmail === null ? null : ceiling}::text[],
            updated_at = CURRENT_TIMESTAMP
        where id = ${current.id}
        returning ${tx(userColumns)}`;
      if (row === undefined) throw userNotFound(input.publicId);
      return { user: userFromRow(row), emailChange: decision.outcome };
    });
  }

  /**
   * The database cascades roles, permissions, memberships and identities, so the checks the
   * cascade would skip run here first, in one transaction: refused when the user is the last
   * holder of `superadmin` (60605) or the last owner of a project (60803, the first such project
   * by id), with nothing changed. Locks follow guards.ts's order: the superadmin role, the owned
   * projects, then the user.
   */
  async delete(publicId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        // A retry rolls back (it changed nothing): only the attempt that deletes commits, with
        // the call's audit row.
        await this.sql.begin(async (tx) => {
          if ((await this.deleteOnce(tx, publicId)) === "retry") throw new DeletionRetry();
        });
        return;
      } catch (e) {
        if (!(e instanceof DeletionRetry)) throw e;
      }
      // Only a concurrent new ownership gets here, and each retry locks it: more than a few in a
      // row means something is changing memberships in a loop, which is worth an error.
      if (attempt === DELETE_ATTEMPTS) throw new Error(`user ${publicId} kept gaining project ownerships during deletion`);
    }
  }

  private async deleteOnce(tx: TransactionSql, publicId: string): Promise<"deleted" | "retry"> {
    // Taken whether or not the user holds the role: that is only settled once the user's row is
    // locked (no assignment can then commit), and this lock must come before that one.
    const superadminRoleId = await lockSuperadminRole(tx);
    const [found] = await tx<{ id: string }[]>`select id from altalune_users where public_id = ${publicId}`;
    if (found === undefined) throw userNotFound(publicId);
    const projects = await lockProjectsOwnedBy(tx, found.id);
    // From here no new membership or role of this user can be committed (assignments and foreign
    // keys take FOR KEY SHARE on the user's row), so what the checks read is what the delete
    // removes.
    const [locked] = await tx<{ id: string }[]>`select id from altalune_users where id = ${found.id} for update`;
    if (locked === undefined) throw userNotFound(publicId);
    // An ownership committed between the project locks and the user lock (AssignProjectMembers,
    // CreateProject as a superadmin) is on a project not locked here: start over, locking it too.
    const lockedIds = new Set(projects.map((p) => p.id));
    if ((await ownedProjectIds(tx, found.id)).some((id) => !lockedIds.has(id))) return "retry";
    if (superadminRoleId !== undefined) await refuseLastSuperadmin(tx, superadminRoleId, found.id, publicId);
    await refuseLastOwnerOf(tx, found.id, projects);
    await tx`delete from altalune_users where id = ${found.id}`;
    return "deleted";
  }

  /**
   * The state check is part of the UPDATE, so two concurrent activations cannot both succeed.
   * `activated_at` keeps the first activation.
   */
  async activate(publicId: string): Promise<User> {
    const [row] = await auditedWrite<UserRow>(
      this.sql,
      this.sql`
        update altalune_users
        set is_active = true, activated_at = coalesce(activated_at, CURRENT_TIMESTAMP), updated_at = CURRENT_TIMESTAMP
        where public_id = ${publicId} and not is_active
        returning ${this.sql(userColumns)}`,
    );
    if (row !== undefined) return userFromRow(row);
    await this.getByPublicId(publicId);
    throw userAlreadyActive(publicId);
  }

  async deactivate(publicId: string): Promise<User> {
    const [row] = await auditedWrite<UserRow>(
      this.sql,
      this.sql`
        update altalune_users
        set is_active = false, updated_at = CURRENT_TIMESTAMP
        where public_id = ${publicId} and is_active
        returning ${this.sql(userColumns)}`,
    );
    if (row !== undefined) return userFromRow(row);
    await this.getByPublicId(publicId);
    throw userAlreadyInactive(publicId);
  }
}
