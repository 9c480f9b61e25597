import type { Queryable } from "@altalune/db";
import { ROOT_PERMISSION } from "@altalune/core";
import { rootOfSuperadmin } from "../permission/index.js";
import { lastSuperadmin, SUPERADMIN_ROLE } from "../role/index.js";
import { lastOwner } from "./errors.js";
import { OWNER_ROLE } from "./model.js";

/*
 * Checks that keep the system administrable: a project keeps an owner, the `superadmin` role
 * keeps a holder and keeps `root`. Each runs inside the caller's transaction, after taking the
 * row lock that every change able to break its rule also takes, so the check and the write cannot
 * be separated by a concurrent change.
 *
 * Lock order, the same in every transaction that takes more than one of them, so none deadlock:
 *   1. the `superadmin` role row, FOR NO KEY UPDATE (DeleteUser, RemoveUserRoles of that role)
 *   2. project rows in id order, FOR NO KEY UPDATE (DeleteUser; membership changes, one project)
 *   3. the user's row, FOR UPDATE (DeleteUser: the delete itself)
 * The FOR KEY SHARE locks that assignments and foreign-key checks take conflict only with 3, and
 * membership assignments take them after 2, so they fit the same order; assigning a role never
 * waits for these checks.
 */

/**
 * Locks the `superadmin` role's row and returns its id; undefined when the role does not exist
 * (an unseeded database, where there is nothing to protect). Every change that can leave the
 * role without a holder takes this lock first, which serialises them.
 */
export async function lockSuperadminRole(tx: Queryable): Promise<string | undefined> {
  const [row] = await tx<{ id: string }[]>`
    select id from altalune_roles where system_key = ${SUPERADMIN_ROLE} for no key update`;
  return row?.id;
}

/**
 * Throws 60605 if the user holds the superadmin role and nobody else does. Call with the role's
 * row locked (lockSuperadminRole): removals and deletions of holders then wait for each other,
 * and a concurrent assignment can only add holders, which makes a refusal at worst overcautious.
 */
export async function refuseLastSuperadmin(
  tx: Queryable,
  superadminRoleId: string,
  userId: string,
  userPublicId: string,
): Promise<void> {
  const [row] = await tx<{ holds: boolean; others: boolean }[]>`
    select
      exists (select 1 from altalune_users_roles where role_id = ${superadminRoleId} and user_id = ${userId}) as holds,
      exists (select 1 from altalune_users_roles where role_id = ${superadminRoleId} and user_id <> ${userId}) as others`;
  if (row !== undefined && row.holds && !row.others) throw lastSuperadmin(userPublicId);
}

/**
 * RemoveUserRoles: when the roles removed include `superadmin`, locks its row and throws 60605 if
 * the user is its last holder. Other removals take no lock.
 */
export async function refuseRemovingLastSuperadmin(
  tx: Queryable,
  userId: string,
  userPublicId: string,
  roleIds: readonly string[],
): Promise<void> {
  const [target] = await tx`
    select 1 from altalune_roles where id = any(${roleIds}::bigint[]) and system_key = ${SUPERADMIN_ROLE}`;
  if (target === undefined) return;
  const superadminRoleId = await lockSuperadminRole(tx);
  if (superadminRoleId !== undefined) await refuseLastSuperadmin(tx, superadminRoleId, userId, userPublicId);
}

/**
 * Throws 60706 if the role is `superadmin` and the permissions include `root`, whether or not
 * the mapping exists: the request asks for something that must never happen. The role's row is
 * locked so that the key checked is the key at commit.
 */
export async function refuseRootRemovalFromSuperadmin(
  tx: Queryable,
  roleId: string,
  permissionIds: readonly string[],
): Promise<void> {
  const [role] = await tx<{ is_superadmin: boolean }[]>`
    select system_key is not distinct from ${SUPERADMIN_ROLE} as is_superadmin from altalune_roles where id = ${roleId} for no key update`;
  if (role === undefined || !role.is_superadmin) return;
  const [root] = await tx`
    select 1 from altalune_permissions
    where id = any(${permissionIds}::bigint[]) and system_key = ${ROOT_PERMISSION}`;
  if (root !== undefined) throw rootOfSuperadmin();
}

export interface LockedProject {
  id: string;
  publicId: string;
}

/**
 * Locks, in id order, the projects the user currently owns: the lock IamRepo takes on a project
 * before changing its members, so none of them can lose another owner while the caller decides.
 * Ownerships added after this statement's snapshot are not included: the caller must re-read
 * them (ownedProjectIds) once no new ones can appear, and start over if the set grew.
 */
export async function lockProjectsOwnedBy(tx: Queryable, userId: string): Promise<LockedProject[]> {
  const rows = await tx<{ id: string; public_id: string }[]>`
    select p.id, p.public_id from altalune_projects p
    where p.id in (select project_id from altalune_project_members where user_id = ${userId} and role = ${OWNER_ROLE})
    order by p.id
    for no key update of p`;
  return rows.map((r) => ({ id: r.id, publicId: r.public_id }));
}

export async function ownedProjectIds(tx: Queryable, userId: string): Promise<string[]> {
  const rows = await tx<{ project_id: string }[]>`
    select project_id from altalune_project_members where user_id = ${userId} and role = ${OWNER_ROLE}`;
  return rows.map((r) => r.project_id);
}

/**
 * Throws 60803 for the first (lowest id) of the locked projects that has no owner but the user,
 * i.e. would be left without one when the user goes. Call with the projects locked
 * (lockProjectsOwnedBy).
 */
export async function refuseLastOwnerOf(tx: Queryable, userId: string, projects: readonly LockedProject[]): Promise<void> {
  if (projects.length === 0) return;
  const [orphaned] = await tx<{ id: string }[]>`
    select p.id from unnest(${projects.map((p) => p.id)}::bigint[]) as p(id)
    where exists (select 1 from altalune_project_members m
                  where m.project_id = p.id and m.user_id = ${userId} and m.role = ${OWNER_ROLE})
      and not exists (select 1 from altalune_project_members m
                      where m.project_id = p.id and m.user_id <> ${userId} and m.role = ${OWNER_ROLE})
    order by p.id
    limit 1`;
  if (orphaned === undefined) return;
  const project = projects.find((p) => p.id === orphaned.id);
  if (project === undefined) throw new Error(`project ${orphaned.id} was not locked`);
  throw lastOwner(project.publicId);
}
