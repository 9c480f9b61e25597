import { newPublicId, type Logger } from "@altalune/core";
import type { Sql, TransactionSql } from "@altalune/db";
import { ROOT_PERMISSION } from "../permission/model.js";
import { DEFAULT_USER_ROLE, SUPERADMIN_ROLE } from "../role/model.js";
import { OWNER_ROLE } from "./model.js";

interface Named {
  name: string;
  description: string;
}

export const SEED_ROLES: readonly Named[] = [
  { name: SUPERADMIN_ROLE, description: "System super administrator" },
  { name: DEFAULT_USER_ROLE, description: "Default role for authenticated users" },
];

const ENTITIES: ReadonlyArray<readonly [entity: string, plural: string]> = [
  ["employee", "employees"],
  ["user", "users"],
  ["role", "roles"],
  ["permission", "permissions"],
  ["project", "projects"],
  ["apikey", "API keys"],
  ["chatbot", "chatbot settings"],
  ["client", "OAuth clients"],
  ["provider", "OAuth providers"],
  ["member", "project members"],
];

export const SEED_PERMISSIONS: readonly Named[] = [
  { name: ROOT_PERMISSION, description: "Full system access - wildcard permission" },
  { name: "dashboard:read", description: "Basic dashboard read access" },
  ...ENTITIES.flatMap(([entity, plural]) => [
    { name: `${entity}:read`, description: `View ${plural}` },
    { name: `${entity}:write`, description: `Create and update ${plural}` },
    { name: `${entity}:delete`, description: `Delete ${plural}` },
  ]),
  { name: "iam:read", description: "View role and permission assignments" },
  { name: "iam:write", description: "Change role and permission assignments" },
];

export const SEED_ROLE_PERMISSIONS: ReadonlyArray<readonly [role: string, permission: string]> = [
  [SUPERADMIN_ROLE, ROOT_PERMISSION],
  [DEFAULT_USER_ROLE, "dashboard:read"],
];

/**
 * Roles, permissions, their mappings, and the superadmin user owning the default project; in one
 * transaction, idempotent. Rows are found by name, by role and by flag, never by internal id.
 * Names an operator has since changed in case only ("User") count as present.
 */
export async function seedIam(sql: Sql, superadminEmail: string, logger: Pick<Logger, "info">): Promise<void> {
  await sql.begin(async (tx) => {
    await insertNamed(tx, "altalune_roles", SEED_ROLES);
    await insertNamed(tx, "altalune_permissions", SEED_PERMISSIONS);
    await tx`
      insert into altalune_roles_permissions (role_id, permission_id)
      select r.id, p.id
      from unnest(${SEED_ROLE_PERMISSIONS.map(([role]) => role)}::text[],
                  ${SEED_ROLE_PERMISSIONS.map(([, permission]) => permission)}::text[]) as m(role_name, permission_name)
      join altalune_roles r on lower(r.name) = m.role_name
      join altalune_permissions p on lower(p.name) = m.permission_name
      on conflict do nothing`;
    const superadmin = await ensureSuperadmin(tx, superadminEmail, logger);
    await tx`
      insert into altalune_project_members (project_id, user_id, role)
      select id, ${superadmin}, ${OWNER_ROLE} from altalune_projects where is_default
      on conflict (project_id, user_id) do update set role = excluded.role, updated_at = CURRENT_TIMESTAMP
      where altalune_project_members.role <> excluded.role`;
  });
}

async function insertNamed(tx: TransactionSql, table: string, rows: readonly Named[]): Promise<void> {
  await tx`
    insert into ${tx(table)} (public_id, name, description)
    select * from unnest(${rows.map(() => newPublicId())}::text[], ${rows.map((r) => r.name)}::text[],
                         ${rows.map((r) => r.description)}::text[])
    on conflict ((lower(name))) do nothing`;
}

/**
 * The superadmin is the user with SUPERADMIN_EMAIL if that user holds the superadmin role; else
 * the oldest holder of the role, whose email follows the configuration; else a new user. An
 * address that belongs to someone without the role is refused rather than silently promoted.
 */
async function ensureSuperadmin(tx: TransactionSql, email: string, logger: Pick<Logger, "info">): Promise<string> {
  const [byEmail] = await tx<{ id: string; public_id: string; is_superadmin: boolean }[]>`
    select u.id, u.public_id,
      exists (select 1 from altalune_users_roles ur join altalune_roles r on r.id = ur.role_id
              where ur.user_id = u.id and lower(r.name) = ${SUPERADMIN_ROLE}) as is_superadmin
    from altalune_users u where u.email = ${email}`;
  if (byEmail !== undefined) {
    if (!byEmail.is_superadmin) {
      throw new Error(
        `SUPERADMIN_EMAIL ${email} belongs to user ${byEmail.public_id}, who does not hold the ${SUPERADMIN_ROLE} role: ` +
          `assign the role to that user, or configure another address`,
      );
    }
    return byEmail.id;
  }

  const [oldest] = await tx<{ id: string; email: string }[]>`
    select u.id, u.email from altalune_users u
    where exists (select 1 from altalune_users_roles ur join altalune_roles r on r.id = ur.role_id
                  where ur.user_id = u.id and lower(r.name) = ${SUPERADMIN_ROLE})
    order by u.created_at, u.id
    limit 1`;
  if (oldest !== undefined) {
    await tx`update altalune_users set email = ${email}, updated_at = CURRENT_TIMESTAMP where id = ${oldest.id}`;
    logger.info(`superadmin email changed from ${oldest.email} to ${email}`);
    return oldest.id;
  }

  const [created] = await tx<{ id: string }[]>`
    insert into altalune_users (public_id, email, first_name, last_name, is_active, email_verified, activated_at)
    values (${newPublicId()}, ${email}, 'Super', 'Admin', true, true, CURRENT_TIMESTAMP)
    returning id`;
  if (created === undefined) throw new Error("insert into altalune_users returned no row");
  await tx`
    insert into altalune_users_roles (user_id, role_id)
    select ${created.id}, id from altalune_roles where lower(name) = ${SUPERADMIN_ROLE}`;
  logger.info(`seeded the superadmin ${email}`);
  return created.id;
}
