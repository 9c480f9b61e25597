import type { HandlerContext } from "@connectrpc/connect";
import { AppError, ROOT_PERMISSION } from "@altalune/core";
import type { Queryable } from "@altalune/db";
import { principalOf, type Principal } from "@altalune/rpc";

/*
 * No delegation beyond what you hold (what Kubernetes RBAC calls the escalation check). A caller
 * without `root` may grant only permissions it holds, and may change only users and roles whose
 * permissions it holds: otherwise holding `iam:write` or `user:write` alone would be a path to
 * every other permission (assign yourself `superadmin`, take over the superadmin's account).
 *
 * "What the caller holds" is what its access token carries (the principal), never the user's
 * permissions in the database: a token narrowed to fewer permissions (an application's scopes)
 * delegates only what it was narrowed to. Permissions are compared by their key: a system
 * permission's `system_key`, a custom permission's name (a custom permission renamed after the
 * token was issued no longer matches, which can only refuse more).
 */

export const DelegationCodes = {
  Escalation: "60013",
} as const;

/** The caller of an RPC as the escalation check sees it. */
export interface Grantor {
  /** `root` passes every check. */
  readonly root: boolean;
  readonly permissions: ReadonlySet<string>;
  /** Public ids of the projects the caller's token names it a member of. */
  readonly projects: ReadonlySet<string>;
}

/** Operators and the seed: every check passes. */
export const SYSTEM_GRANTOR: Grantor = { root: true, permissions: new Set([ROOT_PERMISSION]), projects: new Set() };

/**
 * The grantor of a call. An unauthenticated call never reaches a mutating handler (every such RPC
 * has a non-public rule), so a missing principal is a wiring error, and grants nothing.
 */
function projectsOf(p: Principal): ReadonlySet<string> {
  switch (p.kind) {
    case "user":
      return new Set(p.memberships.keys());
    case "client":
      return p.projects;
    case "api_key":
      return new Set([p.projectPublicId]);
  }
}

export function grantorOf(ctx: Pick<HandlerContext, "values">): Grantor {
  const p = principalOf(ctx);
  if (p === undefined) return { root: false, permissions: new Set(), projects: new Set() };
  return {
    root: p.kind === "user" && p.permissions.has(ROOT_PERMISSION),
    permissions: p.permissions,
    projects: projectsOf(p),
  };
}

export type DelegationTarget =
  | { kind: "user"; publicId: string }
  | { kind: "project"; publicId: string }
  | { kind: "role"; publicId: string }
  | { kind: "permissions" }
  | { kind: "roles" };

const TARGET_TEXT: Record<DelegationTarget["kind"], string> = {
  user: "this user holds permissions you do not hold",
  role: "this role grants permissions you do not hold",
  permissions: "you may only grant permissions you hold",
  roles: "you may only assign roles whose permissions you hold",
  project: "you may only make users members of projects you are a member of",
};

export function escalationRefused(target: DelegationTarget, missing: readonly string[]): AppError {
  return new AppError({
    code: DelegationCodes.Escalation,
    status: "permission_denied",
    message: `permission denied: ${TARGET_TEXT[target.kind]}${missing.length > 0 ? ` (${missing.join(", ")})` : ""}`,
    meta: {
      reason: "escalation",
      target: target.kind,
      missing: missing.join(","),
      ...("publicId" in target ? { [`${target.kind}_id`]: target.publicId } : {}),
    },
  });
}

function refuseMissing(grantor: Grantor, keys: readonly string[], target: DelegationTarget): void {
  if (grantor.root) return;
  const missing = [...new Set(keys)].filter((k) => !grantor.permissions.has(k)).sort();
  if (missing.length > 0) throw escalationRefused(target, missing);
}

// coalesce(p.system_key, p.name): the key a rule and a token use for a permission row.

async function keys(rows: PromiseLike<{ key: string }[]>): Promise<string[]> {
  return (await rows).map((r) => r.key);
}

/** Granting these permissions (to a user or a role). */
export async function refuseGrantingPermissions(tx: Queryable, grantor: Grantor, permissionIds: readonly string[]): Promise<void> {
  if (grantor.root) return;
  const held = await keys(tx<{ key: string }[]>`
    select coalesce(p.system_key, p.name) as key from altalune_permissions p where p.id = any(${permissionIds}::bigint[])`);
  refuseMissing(grantor, held, { kind: "permissions" });
}

/** Assigning these roles to a user: every permission they carry. */
export async function refuseGrantingRoles(tx: Queryable, grantor: Grantor, roleIds: readonly string[]): Promise<void> {
  if (grantor.root) return;
  const held = await keys(tx<{ key: string }[]>`
    select coalesce(p.system_key, p.name) as key
    from altalune_roles_permissions rp join altalune_permissions p on p.id = rp.permission_id
    where rp.role_id = any(${roleIds}::bigint[])`);
  refuseMissing(grantor, held, { kind: "roles" });
}

/** Changing a role (its name, its permissions, deleting it): everything it grants today. */
export async function refuseChangingRole(tx: Queryable, grantor: Grantor, role: { id: string; publicId: string }): Promise<void> {
  if (grantor.root) return;
  const held = await keys(tx<{ key: string }[]>`
    select coalesce(p.system_key, p.name) as key
    from altalune_roles_permissions rp join altalune_permissions p on p.id = rp.permission_id
    where rp.role_id = ${role.id}`);
  refuseMissing(grantor, held, { kind: "role", publicId: role.publicId });
}

/**
 * Changing a user (profile, email, activation, deletion, roles, direct permissions): everything
 * the user holds today, directly or through roles.
 */
export async function refuseChangingUser(tx: Queryable, grantor: Grantor, user: { id: string; publicId: string }): Promise<void> {
  if (grantor.root) return;
  const held = await keys(tx<{ key: string }[]>`
    select coalesce(p.system_key, p.name) as key from altalune_permissions p
    where p.id in (
      select permission_id from altalune_users_permissions where user_id = ${user.id}
      union
      select rp.permission_id from altalune_users_roles ur join altalune_roles_permissions rp on rp.role_id = ur.role_id
      where ur.user_id = ${user.id})`);
  refuseMissing(grantor, held, { kind: "user", publicId: user.publicId });
}

/** refuseChangingUser for a user known by public id; an unknown id passes (the change then fails NotFound). */
export async function refuseChangingUserByPublicId(tx: Queryable, grantor: Grantor, userPublicId: string): Promise<void> {
  if (grantor.root) return;
  const [row] = await tx<{ id: string }[]>`select id from altalune_users where public_id = ${userPublicId}`;
  if (row !== undefined) await refuseChangingUser(tx, grantor, { id: row.id, publicId: userPublicId });
}

/**
 * CreateUser: a new user gets the default role and a membership of the default project, so the
 * creator must hold the role's permissions and be a member of that project.
 */
export async function refuseGrantingDefaults(tx: Queryable, grantor: Grantor): Promise<void> {
  if (grantor.root) return;
  const held = await keys(tx<{ key: string }[]>`
    select coalesce(p.system_key, p.name) as key
    from altalune_roles r
    join altalune_roles_permissions rp on rp.role_id = r.id
    join altalune_permissions p on p.id = rp.permission_id
    where r.system_key = 'user'`);
  refuseMissing(grantor, held, { kind: "roles" });
  const [project] = await tx<{ public_id: string }[]>`select public_id from altalune_projects where is_default`;
  if (project !== undefined && !grantor.projects.has(project.public_id)) {
    throw escalationRefused({ kind: "project", publicId: project.public_id }, []);
  }
}

/** Granting a fixed set of permission keys (an API key's). */
export function refuseGrantingKeys(grantor: Grantor, granted: Iterable<string>): void {
  refuseMissing(grantor, [...granted], { kind: "permissions" });
}
