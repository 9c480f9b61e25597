import type { AppError } from "@altalune/core";
import type { Queryable, Sql } from "@altalune/db";
import { permissionColumns, permissionFromRow, permissionNotFound, type Permission, type PermissionRow } from "../permission/index.js";
import { projectNotFound } from "../project/index.js";
import { roleColumns, roleFromRow, roleNotFound, type Role, type RoleRow } from "../role/index.js";
import { userColumns, userNotFound } from "../user/index.js";
import { lastOwner } from "./errors.js";
import {
  refuseChangingRole,
  refuseChangingUser,
  refuseGrantingPermissions,
  refuseGrantingRoles,
  type Grantor,
} from "./delegation.js";
import { refuseRemovingLastSuperadmin, refuseRootRemovalFromSuperadmin } from "./guards.js";
import { memberFromRow, userProjectFromRow, type MemberRow, type UserProjectRow } from "./mapper.js";
import { OWNER_ROLE, type MemberAssignment, type ProjectMember, type UserProjectMembership } from "./model.js";

interface Entity {
  table: "altalune_users" | "altalune_roles" | "altalune_permissions" | "altalune_projects";
  notFound: (publicId: string) => AppError;
}

// Called through, not referenced: those domains import IAM back, so while this module loads
// their errors may not be loaded yet.
const USERS: Entity = { table: "altalune_users", notFound: (id) => userNotFound(id) };
const ROLES: Entity = { table: "altalune_roles", notFound: (id) => roleNotFound(id) };
const PERMISSIONS: Entity = { table: "altalune_permissions", notFound: (id) => permissionNotFound(id) };
const PROJECTS: Entity = { table: "altalune_projects", notFound: (id) => projectNotFound(id) };

/** A many-to-many table whose key is the pair (left, right). */
export interface Mapping {
  table: string;
  left: Entity;
  leftColumn: string;
  right: Entity;
  rightColumn: string;
  /**
   * The escalation check (delegation.ts), in the writing transaction after the ids are resolved:
   * on both sides of a mapping, the left row is changed; on assignment, the right rows are granted.
   */
  refuseChangingLeft: (tx: Queryable, grantor: Grantor, left: { id: string; publicId: string }) => Promise<void>;
  refuseGranting: (tx: Queryable, grantor: Grantor, rightIds: readonly string[]) => Promise<void>;
  /**
   * Locks that keep the escalation check true until commit: a role being changed is locked
   * against a concurrent grant of it, and a role being granted against a concurrent change (two
   * colluding administrators could otherwise slip a permission past both checks).
   */
  leftLock: Lock;
  rightLock: Lock;
  /**
   * Runs in the removing transaction after the ids are resolved and before the delete; throws to
   * refuse a removal that would leave the system unadministrable (see guards.ts).
   */
  beforeRemove?: (tx: Queryable, left: { id: string; publicId: string }, rightIds: readonly string[]) => Promise<void>;
}

export const USER_ROLES: Mapping = {
  table: "altalune_users_roles",
  left: USERS,
  leftColumn: "user_id",
  right: ROLES,
  rightColumn: "role_id",
  refuseChangingLeft: refuseChangingUser,
  refuseGranting: refuseGrantingRoles,
  leftLock: "key share",
  rightLock: "share",
  beforeRemove: (tx, user, roleIds) => refuseRemovingLastSuperadmin(tx, user.id, user.publicId, roleIds),
};
export const ROLE_PERMISSIONS: Mapping = {
  table: "altalune_roles_permissions",
  left: ROLES,
  leftColumn: "role_id",
  right: PERMISSIONS,
  rightColumn: "permission_id",
  refuseChangingLeft: refuseChangingRole,
  refuseGranting: refuseGrantingPermissions,
  leftLock: "no key update",
  rightLock: "key share",
  beforeRemove: (tx, role, permissionIds) => refuseRootRemovalFromSuperadmin(tx, role.id, permissionIds),
};
export const USER_PERMISSIONS: Mapping = {
  table: "altalune_users_permissions",
  left: USERS,
  leftColumn: "user_id",
  right: PERMISSIONS,
  rightColumn: "permission_id",
  refuseChangingLeft: refuseChangingUser,
  refuseGranting: refuseGrantingPermissions,
  leftLock: "key share",
  rightLock: "key share",
};

/**
 * Row locks taken while resolving ids. `key share` keeps a resolved row from being deleted
 * before the insert that references it (which would otherwise fail its foreign key); it does not
 * block other readers or writers of the row. `share` on a role being granted and `no key update`
 * on a role being changed make the two wait for each other (delegation.ts reads what the role
 * grants). `no key update` on a project serialises membership
 * changes of that project, so the owner count a change checks cannot be changed concurrently;
 * it does not conflict with the key-share locks foreign keys take.
 */
type Lock = "none" | "key share" | "share" | "no key update";

function lockClause(q: Queryable, lock: Lock) {
  switch (lock) {
    case "none":
      return q``;
    case "key share":
      return q`for key share`;
    case "share":
      return q`for share`;
    case "no key update":
      return q`for no key update`;
  }
}

async function resolveOne(q: Queryable, entity: Entity, publicId: string, lock: Lock): Promise<string> {
  const [row] = await q<{ id: string }[]>`
    select id from ${q(entity.table)} where public_id = ${publicId} ${lockClause(q, lock)}`;
  if (row === undefined) throw entity.notFound(publicId);
  return row.id;
}

/**
 * Public ids → internal ids. The first unknown id, in request order, fails the call. Rows are
 * locked in id order, the same order every caller uses, so two callers cannot deadlock.
 */
async function resolveMany(
  q: Queryable,
  entity: Entity,
  publicIds: readonly string[],
  lock: Lock,
): Promise<Map<string, string>> {
  const wanted = [...new Set(publicIds)];
  const rows = await q<{ id: string; public_id: string }[]>`
    select id, public_id from ${q(entity.table)} where public_id = any(${wanted}::text[])
    order by id ${lockClause(q, lock)}`;
  const found = new Map(rows.map((r) => [r.public_id, r.id]));
  const missing = wanted.find((id) => !found.has(id));
  if (missing !== undefined) throw entity.notFound(missing);
  return found;
}

function idOf(resolved: ReadonlyMap<string, string>, publicId: string): string {
  const id = resolved.get(publicId);
  if (id === undefined) throw new Error(`${publicId} was not resolved`);
  return id;
}

const byName = (q: Queryable) => q`order by lower(name) collate "C", name collate "C", id`;

export class IamRepo {
  constructor(private readonly sql: Sql) {}

  /** Adds the pairs that are missing; existing ones stay as they are (no error, no duplicate). */
  async assign(mapping: Mapping, leftPublicId: string, rightPublicIds: readonly string[], grantor: Grantor): Promise<void> {
    await this.sql.begin(async (tx) => {
      const left = await resolveOne(tx, mapping.left, leftPublicId, mapping.leftLock);
      const rights = [...(await resolveMany(tx, mapping.right, rightPublicIds, mapping.rightLock)).values()];
      await mapping.refuseChangingLeft(tx, grantor, { id: left, publicId: leftPublicId });
      await mapping.refuseGranting(tx, grantor, rights);
      // Inserted in id order: two overlapping concurrent assignments wait for each other's rows
      // in the same order instead of deadlocking.
      await tx`
        insert into ${tx(mapping.table)} (${tx(mapping.leftColumn)}, ${tx(mapping.rightColumn)})
        select ${left}, r from unnest(${rights}::bigint[]) as r order by r
        on conflict do nothing`;
    });
  }

  /**
   * Removes the pairs that exist; absent ones are ignored. Unknown ids still fail the call, and
   * the mapping's guard may refuse it; either way nothing changes.
   */
  async remove(mapping: Mapping, leftPublicId: string, rightPublicIds: readonly string[], grantor: Grantor): Promise<void> {
    await this.sql.begin(async (tx) => {
      const left = await resolveOne(tx, mapping.left, leftPublicId, mapping.leftLock === "no key update" ? "no key update" : "none");
      const rights = [...(await resolveMany(tx, mapping.right, rightPublicIds, "none")).values()];
      await mapping.refuseChangingLeft(tx, grantor, { id: left, publicId: leftPublicId });
      await mapping.beforeRemove?.(tx, { id: left, publicId: leftPublicId }, rights);
      await tx`
        delete from ${tx(mapping.table)}
        where ${tx(mapping.leftColumn)} = ${left} and ${tx(mapping.rightColumn)} = any(${rights}::bigint[])`;
    });
  }

  async rolesOfUser(userPublicId: string): Promise<Role[]> {
    const userId = await resolveOne(this.sql, USERS, userPublicId, "none");
    const rows = await this.sql<RoleRow[]>`
      select ${this.sql(roleColumns)} from altalune_roles
      where id in (select role_id from altalune_users_roles where user_id = ${userId})
      ${byName(this.sql)}`;
    return rows.map(roleFromRow);
  }

  async permissionsOfRole(rolePublicId: string): Promise<Permission[]> {
    const roleId = await resolveOne(this.sql, ROLES, rolePublicId, "none");
    const rows = await this.sql<PermissionRow[]>`
      select ${this.sql(permissionColumns)} from altalune_permissions
      where id in (select permission_id from altalune_roles_permissions where role_id = ${roleId})
      ${byName(this.sql)}`;
    return rows.map(permissionFromRow);
  }

  /** Direct ∪ through roles, each permission once: what the user may do right now. */
  async effectivePermissionsOfUser(userPublicId: string): Promise<Permission[]> {
    const userId = await resolveOne(this.sql, USERS, userPublicId, "none");
    const rows = await this.sql<PermissionRow[]>`
      select ${this.sql(permissionColumns)} from altalune_permissions
      where id in (
        select permission_id from altalune_users_permissions where user_id = ${userId}
        union
        select rp.permission_id
        from altalune_users_roles ur join altalune_roles_permissions rp on rp.role_id = ur.role_id
        where ur.user_id = ${userId})
      ${byName(this.sql)}`;
    return rows.map(permissionFromRow);
  }

  /**
   * Adds members or changes their role. Refused, with nothing changed, when it leaves a project
   * that had an owner without one.
   */
  async assignMembers(projectPublicId: string, members: readonly MemberAssignment[]): Promise<void> {
    await this.sql.begin(async (tx) => {
      const projectId = await resolveOne(tx, PROJECTS, projectPublicId, "no key update");
      const users = await resolveMany(tx, USERS, members.map((m) => m.userPublicId), "key share");
      const rows = members.map((m) => ({ userId: idOf(users, m.userPublicId), role: m.role }));
      await this.guardLastOwner(tx, projectId, projectPublicId, () => tx`
        insert into altalune_project_members (project_id, user_id, role)
        select ${projectId}, m.user_id, m.role
        from unnest(${rows.map((r) => r.userId)}::bigint[], ${rows.map((r) => r.role)}::text[]) as m(user_id, role)
        order by m.user_id
        on conflict (project_id, user_id) do update
        set role = excluded.role, updated_at = CURRENT_TIMESTAMP
        where altalune_project_members.role <> excluded.role`);
    });
  }

  /** Removes memberships; users who are not members are ignored. Same last-owner rule. */
  async removeMembers(projectPublicId: string, userPublicIds: readonly string[]): Promise<void> {
    await this.sql.begin(async (tx) => {
      const projectId = await resolveOne(tx, PROJECTS, projectPublicId, "no key update");
      const userIds = [...(await resolveMany(tx, USERS, userPublicIds, "none")).values()];
      await this.guardLastOwner(tx, projectId, projectPublicId, () => tx`
        delete from altalune_project_members where project_id = ${projectId} and user_id = any(${userIds}::bigint[])`);
    });
  }

  /** Newest member first. */
  async membersOfProject(projectPublicId: string): Promise<ProjectMember[]> {
    const projectId = await resolveOne(this.sql, PROJECTS, projectPublicId, "none");
    const rows = await this.sql<MemberRow[]>`
      select ${this.sql(userColumns.map((c) => `u.${c}`))}, m.role as member_role, m.created_at as joined_at
      from altalune_project_members m join altalune_users u on u.id = m.user_id
      where m.project_id = ${projectId}
      order by m.created_at desc, u.id desc`;
    return rows.map(memberFromRow);
  }

  /** Newest membership first. */
  async projectsOfUser(userPublicId: string): Promise<UserProjectMembership[]> {
    const userId = await resolveOne(this.sql, USERS, userPublicId, "none");
    const rows = await this.sql<UserProjectRow[]>`
      select p.public_id as project_public_id, p.name as project_name, m.role, m.created_at as joined_at
      from altalune_project_members m join altalune_projects p on p.id = m.project_id
      where m.user_id = ${userId}
      order by m.created_at desc, p.id desc`;
    return rows.map(userProjectFromRow);
  }

  /**
   * Runs a membership change inside the caller's transaction, which holds the project's row lock,
   * and throws (rolling it back) if the project had owners before and has none after. DeleteUser
   * takes the same lock on every project the user owns before checking it (guards.ts), so a
   * membership change and a user deletion cannot together remove a project's last owners.
   */
  private async guardLastOwner(
    tx: Queryable,
    projectId: string,
    projectPublicId: string,
    change: () => PromiseLike<unknown>,
  ): Promise<void> {
    const owners = async () => {
      const [row] = await tx<{ n: number }[]>`
        select count(*)::int as n from altalune_project_members where project_id = ${projectId} and role = ${OWNER_ROLE}`;
      return row?.n ?? 0;
    };
    const before = await owners();
    await change();
    if (before > 0 && (await owners()) === 0) throw lastOwner(projectPublicId);
  }
}
