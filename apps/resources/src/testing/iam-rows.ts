import type { Sql } from "@altalune/db";

/** Each IAM table's rows as comparable text, by what they relate. */
const IAM_ROWS = {
  users: `select 'u ' || public_id as row from altalune_users`,
  userRoles: `select 'ur ' || u.public_id || ' ' || r.public_id as row
      from altalune_users_roles m join altalune_users u on u.id = m.user_id join altalune_roles r on r.id = m.role_id`,
  rolePermissions: `select 'rp ' || r.public_id || ' ' || p.public_id as row
      from altalune_roles_permissions m join altalune_roles r on r.id = m.role_id join altalune_permissions p on p.id = m.permission_id`,
  userPermissions: `select 'up ' || u.public_id || ' ' || p.public_id as row
      from altalune_users_permissions m join altalune_users u on u.id = m.user_id join altalune_permissions p on p.id = m.permission_id`,
  projectMembers: `select 'pm ' || p.public_id || ' ' || u.public_id || ' ' || m.role as row
      from altalune_project_members m join altalune_projects p on p.id = m.project_id join altalune_users u on u.id = m.user_id`,
  identities: `select 'id ' || u.public_id || ' ' || i.provider as row
      from altalune_user_identities i join altalune_users u on u.id = i.user_id`,
} as const;

export type IamRowKind = keyof typeof IAM_ROWS;

/** The rows of the given kinds, sorted: equal before and after a call that changed none of them. */
export async function iamRows(sql: Sql, kinds: readonly IamRowKind[]): Promise<string[]> {
  const rows = await sql.unsafe<{ row: string }[]>(kinds.map((k) => IAM_ROWS[k]).join("\n    union all\n    "));
  return rows.map((r) => r.row).sort();
}
