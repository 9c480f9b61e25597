import { ROOT_PERMISSION } from "@altalune/core";
import type { Sql, SqlFragment } from "@altalune/db";
import { isApiScope } from "@altalune/rpc";

/**
 * Users as the authorization server sees them, read fresh from the IAM tables at every use: the
 * provider's findAccount, the claims of each access token (so a refresh carries the permissions
 * and memberships of that moment) and `altalune token issue` share this module.
 */
export interface AccountRecord {
  publicId: string;
  email: string;
  firstName: string;
  lastName: string;
  avatarUrl: string | null;
  isActive: boolean;
  emailVerified: boolean;
}

interface UserRow {
  id: string;
  public_id: string;
  email: string;
  first_name: string;
  last_name: string;
  avatar_url: string | null;
  is_active: boolean;
  email_verified: boolean;
}

const fromRow = (r: UserRow): AccountRecord => ({
  publicId: r.public_id,
  email: r.email,
  firstName: r.first_name,
  lastName: r.last_name,
  avatarUrl: r.avatar_url,
  isActive: r.is_active,
  emailVerified: r.email_verified,
});

export async function findUserByPublicId(sql: Sql, publicId: string): Promise<AccountRecord | undefined> {
  const [row] = await sql<UserRow[]>`
    select id, public_id, email, first_name, last_name, avatar_url, is_active, email_verified
    from altalune_users where public_id = ${publicId}`;
  return row ? fromRow(row) : undefined;
}

export async function findUserByEmail(sql: Sql, email: string): Promise<AccountRecord | undefined> {
  const [row] = await sql<UserRow[]>`
    select id, public_id, email, first_name, last_name, avatar_url, is_active, email_verified
    from altalune_users where email = ${email.trim().toLowerCase()}`;
  return row ? fromRow(row) : undefined;
}

export interface Authorization {
  /** Effective permissions: direct ∪ through roles, each once, sorted. */
  perms: string[];
  /** project public id → role in that project. */
  memberships: Record<string, string>;
}

/**
 * The user's effective permissions as a text[] expression: the same rules as
 * IamRepo.effectivePermissionsOfUser (Resources API), each once, in the database's order of their
 * names. A system permission by its key (what the API's rules name; it cannot be renamed), a
 * custom one by its name.
 */
function permissionsOf(sql: Sql, userPublicId: string | SqlFragment) {
  return sql`array(
    select coalesce(p.system_key, p.name) from altalune_permissions p
    where p.id in (
      select up.permission_id from altalune_users_permissions up
      join altalune_users u on u.id = up.user_id where u.public_id = ${userPublicId}
      union
      select rp.permission_id
      from altalune_users_roles ur
      join altalune_roles_permissions rp on rp.role_id = ur.role_id
      join altalune_users u on u.id = ur.user_id
      where u.public_id = ${userPublicId})
    order by 1)`;
}

/** The user's memberships as a json array of [project public id, role] (IamRepo.projectsOfUser's rules). */
function membershipsOf(sql: Sql, userPublicId: string | SqlFragment) {
  return sql`coalesce((
    select json_agg(json_build_array(p.public_id, m.role))
    from altalune_project_members m
    join altalune_projects p on p.id = m.project_id
    join altalune_users u on u.id = m.user_id
    where u.public_id = ${userPublicId}), '[]'::json)`;
}

interface AuthorizationRow {
  perms: string[];
  memberships: [string, string][];
}

const toAuthorization = (r: AuthorizationRow): Authorization => ({ perms: r.perms, memberships: Object.fromEntries(r.memberships) });

/**
 * Permissions and memberships in one statement: it runs at every token issuance, where a round
 * trip costs the server more than the subqueries do.
 */
export async function loadAuthorization(sql: Sql, userPublicId: string): Promise<Authorization> {
  const [row] = await sql<AuthorizationRow[]>`
    select ${permissionsOf(sql, userPublicId)} as perms, ${membershipsOf(sql, userPublicId)} as memberships`;
  return toAuthorization(row!);
}

/** findUserByPublicId and loadAuthorization in one statement (a token about to be issued needs both). */
export async function findUserWithAuthorization(sql: Sql, publicId: string): Promise<{ user: AccountRecord; authz: Authorization } | undefined> {
  const [row] = await sql<(UserRow & AuthorizationRow)[]>`
    select id, public_id, email, first_name, last_name, avatar_url, is_active, email_verified,
           ${permissionsOf(sql, publicId)} as perms, ${membershipsOf(sql, publicId)} as memberships
    from altalune_users where public_id = ${publicId}`;
  return row ? { user: fromRow(row), authz: toAuthorization(row) } : undefined;
}

/**
 * findUserWithAuthorization's answer as one json value (null without such a user), for a
 * statement in which the user's public id is `publicId`, a column of that statement: the token
 * being redeemed names its user, so its read brings the user along (pg-adapter.ts).
 */
export function userWithAuthorizationJson(sql: Sql, publicId: SqlFragment): SqlFragment {
  return sql`(
    select json_build_object(
      'id', id::text, 'public_id', public_id, 'email', email, 'first_name', first_name, 'last_name', last_name,
      'avatar_url', avatar_url, 'is_active', is_active, 'email_verified', email_verified,
      'perms', ${permissionsOf(sql, publicId)}, 'memberships', ${membershipsOf(sql, publicId)})
    from altalune_users where public_id = ${publicId})`;
}

/** A value of userWithAuthorizationJson, as JSON text. */
export function parseUserWithAuthorization(json: string): { user: AccountRecord; authz: Authorization } {
  const row = JSON.parse(json) as UserRow & AuthorizationRow;
  return { user: fromRow(row), authz: toAuthorization(row) };
}

/**
 * A third-party client's ceiling: the API scopes granted in this consent (the token's scope) that
 * the user holds now (a user holding root holds every permission). Memberships are untouched:
 * project-scoped rules still require them. First-party clients skip this and carry everything.
 */
export function withinScopes(authz: Authorization, granted: ReadonlySet<string>): Authorization {
  const held = new Set(authz.perms);
  const root = held.has(ROOT_PERMISSION);
  return { ...authz, perms: [...granted].filter((s) => isApiScope(s) && (root || held.has(s))).sort() };
}

export const fullName = (a: AccountRecord): string => `${a.firstName} ${a.lastName}`.trim();

/** OIDC standard claims of a user, by scope (ID token and userinfo). */
export function standardClaims(a: AccountRecord, scopes: ReadonlySet<string>): Record<string, unknown> {
  return {
    sub: a.publicId,
    ...(scopes.has("email") ? { email: a.email, email_verified: a.emailVerified } : {}),
    ...(scopes.has("profile")
      ? {
          ...(fullName(a) ? { name: fullName(a) } : {}),
          ...(a.firstName ? { given_name: a.firstName } : {}),
          ...(a.lastName ? { family_name: a.lastName } : {}),
          ...(a.avatarUrl ? { picture: a.avatarUrl } : {}),
        }
      : {}),
  };
}

/**
 * The claims the Resources API reads from a user's access token, besides iss/aud/sub/exp/iat/jti/
 * client_id/scope: principal ("user"), perms, memberships, email_verified (always), email (email
 * scope), name (profile scope). A machine client's token: machine-clients.ts.
 */
export function accessTokenClaims(a: AccountRecord, authz: Authorization, scopes: ReadonlySet<string>): Record<string, unknown> {
  return {
    principal: "user",
    perms: authz.perms,
    memberships: authz.memberships,
    email_verified: a.emailVerified,
    ...(scopes.has("email") ? { email: a.email } : {}),
    ...(scopes.has("profile") && fullName(a) ? { name: fullName(a) } : {}),
  };
}
