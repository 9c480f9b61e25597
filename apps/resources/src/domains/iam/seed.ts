import { newPublicId, ROOT_PERMISSION } from "@altalune/core";
import type { Sql, TransactionSql } from "@altalune/db";
import { SYSTEM_PERMISSIONS } from "../../auth/system-permissions.js";
import { DEFAULT_USER_ROLE, SUPERADMIN_ROLE } from "../role/index.js";
import { OWNER_ROLE } from "./model.js";

interface Named {
  name: string;
  description: string;
}

/** A row the system relies on: found by its key; its name is only the name it is created with. */
interface SystemRow extends Named {
  key: string;
}

// The role tables are built when the seed runs, not when this module loads: the role domain
// imports IAM back, so its names may not be loaded yet when this module is.
const seedRoles = (): readonly SystemRow[] => [
  { key: SUPERADMIN_ROLE, name: SUPERADMIN_ROLE, description: "System super administrator" },
  { key: DEFAULT_USER_ROLE, name: DEFAULT_USER_ROLE, description: "Default role for authenticated users" },
];

/**
 * The system permissions: a system permission's name is its key. Every permission an RPC rule
 * names, plus the few the dashboard expects (auth/system-permissions.ts): never listed here.
 */
export const SEED_PERMISSIONS: readonly Named[] = SYSTEM_PERMISSIONS;

const seedRolePermissions = (): ReadonlyArray<readonly [role: string, permission: string]> => [
  [SUPERADMIN_ROLE, ROOT_PERMISSION],
  [DEFAULT_USER_ROLE, "dashboard:read"],
];

/**
 * Roles, permissions, their mappings, and the superadmin user owning the default project; in one
 * transaction, idempotent. System rows are found by their `system_key`, the seeded superadmin by
 * its `system` identity and the default project by flag: never by a name an administrator can
 * change. A custom row that carries the name a missing system row needs is renamed aside (and
 * reported), never adopted: adopting it would hand whatever it was given to a rule.
 */
/** What the seed reports through: a renamed-aside row is a warning when the logger has warn. */
export interface SeedLogger {
  info(message: string): void;
  warn?(details: object, message: string): void;
}

export async function seedIam(sql: Sql, superadminEmail: string, logger: SeedLogger): Promise<void> {
  await sql.begin(async (tx) => {
    await ensureSystemRows(tx, "altalune_roles", seedRoles(), logger);
    await ensureSystemRows(tx, "altalune_permissions", SEED_PERMISSIONS.map((p) => ({ ...p, key: p.name })), logger);
    const rolePermissions = seedRolePermissions();
    await tx`
      insert into altalune_roles_permissions (role_id, permission_id)
      select r.id, p.id
      from unnest(${rolePermissions.map(([role]) => role)}::text[],
                  ${rolePermissions.map(([, permission]) => permission)}::text[]) as m(role_key, permission_key)
      join altalune_roles r on r.system_key = m.role_key
      join altalune_permissions p on p.system_key = m.permission_key
      on conflict do nothing`;
    const superadmin = await ensureSuperadmin(tx, superadminEmail, logger);
    await tx`
      insert into altalune_project_members (project_id, user_id, role)
      select id, ${superadmin}, ${OWNER_ROLE} from altalune_projects where is_default
      on conflict (project_id, user_id) do update set role = excluded.role, updated_at = CURRENT_TIMESTAMP
      where altalune_project_members.role <> excluded.role`;
  });
}

/** `<name>_custom`, then `<name>_custom2`, …: valid as a role and as a permission name. */
function asideNames(name: string): string[] {
  const base = name.slice(0, 80);
  return [`${base}_custom`, ...Array.from({ length: 20 }, (_, i) => `${base}_custom${i + 2}`)];
}

async function ensureSystemRows(
  tx: TransactionSql,
  table: "altalune_roles" | "altalune_permissions",
  rows: readonly SystemRow[],
  logger: SeedLogger,
): Promise<void> {
  const missing = await tx<{ key: string }[]>`
    select k.key from unnest(${rows.map((r) => r.key)}::text[]) as k(key)
    where not exists (select 1 from ${tx(table)} t where t.system_key = k.key)`;
  const wanted = rows.filter((r) => missing.some((m) => m.key === r.key));
  if (wanted.length === 0) return;
  const colliding = await tx<{ id: string; public_id: string; name: string }[]>`
    select id, public_id, name from ${tx(table)}
    where system_key is null and lower(name) = any(${wanted.map((r) => r.name.toLowerCase())}::text[])
    order by id for update`;
  for (const row of colliding) {
    const [free] = await tx<{ name: string }[]>`
      select n.name from unnest(${asideNames(row.name)}::text[]) with ordinality as n(name, i)
      where not exists (select 1 from ${tx(table)} t where lower(t.name) = lower(n.name))
      order by n.i limit 1`;
    if (free === undefined) throw new SeedError(`${table}: no free name to rename the custom row ${row.public_id} ('${row.name}') aside`);
    await tx`update ${tx(table)} set name = ${free.name}, updated_at = CURRENT_TIMESTAMP where id = ${row.id}`;
    const message =
      `seed: renamed the custom row '${row.name}' (${row.public_id}) of ${table} to '${free.name}': ` +
        "its name is now a system name; review what it grants and who holds it";
    if (logger.warn) logger.warn({ table, id: row.public_id, from: row.name, to: free.name }, message);
    else logger.info(message);
  }
  await tx`
    insert into ${tx(table)} (public_id, system_key, name, description)
    select * from unnest(${wanted.map(() => newPublicId())}::text[], ${wanted.map((r) => r.key)}::text[],
                         ${wanted.map((r) => r.name)}::text[], ${wanted.map((r) => r.description)}::text[])
    on conflict (system_key) do nothing`;
}

/**
 * The seeded superadmin is marked by a `system` identity (provider `system`, provider user id
 * `superadmin`, as in the original's seeder); the unique (provider, provider_user_id) index keeps
 * it to one user. The seed only ever renames that user, so an operator's own account is never
 * changed, whatever roles it holds.
 */
export const SEEDED_SUPERADMIN_IDENTITY = { provider: "system", providerUserId: "superadmin" } as const;

/** The seed cannot continue without a decision by the operator; the message says which. */
export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SeedError";
  }
}

interface UserRef {
  id: string;
  public_id: string;
  email: string;
  is_superadmin: boolean;
}

/**
 * Finds or makes the seeded superadmin and returns its id:
 * - it exists: its email follows SUPERADMIN_EMAIL, and it keeps the superadmin role (restored if
 *   an operator removed it, as its default-project ownership is);
 * - it does not, and SUPERADMIN_EMAIL belongs to a holder of the superadmin role: that user is
 *   marked (a database seeded before the marker existed; nothing about the user changes);
 * - it does not, and nobody has the address: a new user is created, whoever else holds the role.
 * An address held by anyone else is refused: renaming the seeded superadmin onto it is
 * impossible, and taking that account over would hand someone's login to the configuration.
 */
async function ensureSuperadmin(tx: TransactionSql, email: string, logger: SeedLogger): Promise<string> {
  const holdsSuperadmin = (q: TransactionSql) => q`
    exists (select 1 from altalune_users_roles ur join altalune_roles r on r.id = ur.role_id
            where ur.user_id = u.id and r.system_key = ${SUPERADMIN_ROLE})`;
  const [seeded] = await tx<UserRef[]>`
    select u.id, u.public_id, u.email, ${holdsSuperadmin(tx)} as is_superadmin
    from altalune_users u join altalune_user_identities i on i.user_id = u.id
    where i.provider = ${SEEDED_SUPERADMIN_IDENTITY.provider}
      and i.provider_user_id = ${SEEDED_SUPERADMIN_IDENTITY.providerUserId}`;
  const [byEmail] = await tx<UserRef[]>`
    select u.id, u.public_id, u.email, ${holdsSuperadmin(tx)} as is_superadmin
    from altalune_users u where u.email = ${email}`;

  if (byEmail !== undefined && byEmail.id !== seeded?.id) {
    const adoptable = seeded === undefined && byEmail.is_superadmin;
    if (!adoptable) throw emailTaken(email, byEmail, seeded);
  }

  if (seeded !== undefined) {
    if (seeded.email !== email) {
      // An operator's rename: a pending change (UpdateUser) would otherwise override it when confirmed.
      await tx`update altalune_users set email = ${email}, pending_email = null, updated_at = CURRENT_TIMESTAMP where id = ${seeded.id}`;
      logger.info(`superadmin email changed from ${seeded.email} to ${email}`);
    }
    await tx`
      update altalune_user_identities set email = ${email}, updated_at = CURRENT_TIMESTAMP
      where user_id = ${seeded.id} and provider = ${SEEDED_SUPERADMIN_IDENTITY.provider}
        and provider_user_id = ${SEEDED_SUPERADMIN_IDENTITY.providerUserId} and email is distinct from ${email}`;
    if (!seeded.is_superadmin) {
      await grantSuperadmin(tx, seeded.id);
      logger.info(`restored the ${SUPERADMIN_ROLE} role of the seeded superadmin ${email}`);
    }
    return seeded.id;
  }

  if (byEmail !== undefined) {
    await markSeeded(tx, byEmail.id, email);
    logger.info(`marked ${email}, a holder of the ${SUPERADMIN_ROLE} role, as the seeded superadmin`);
    return byEmail.id;
  }

  const [created] = await tx<{ id: string }[]>`
    insert into altalune_users (public_id, email, first_name, last_name, is_active, email_verified, activated_at)
    values (${newPublicId()}, ${email}, 'Super', 'Admin', true, true, CURRENT_TIMESTAMP)
    returning id`;
  if (created === undefined) throw new Error("insert into altalune_users returned no row");
  await grantSuperadmin(tx, created.id);
  await markSeeded(tx, created.id, email);
  logger.info(`seeded the superadmin ${email}`);
  return created.id;
}

async function grantSuperadmin(tx: TransactionSql, userId: string): Promise<void> {
  await tx`
    insert into altalune_users_roles (user_id, role_id)
    select ${userId}, id from altalune_roles where system_key = ${SUPERADMIN_ROLE}
    on conflict do nothing`;
}

async function markSeeded(tx: TransactionSql, userId: string, email: string): Promise<void> {
  await tx`
    insert into altalune_user_identities (public_id, user_id, provider, provider_user_id, email, first_name, last_name, linked_by)
    select ${newPublicId()}, id, ${SEEDED_SUPERADMIN_IDENTITY.provider}, ${SEEDED_SUPERADMIN_IDENTITY.providerUserId},
           ${email}, first_name, last_name, 'seed'
    from altalune_users where id = ${userId}`;
}

function emailTaken(email: string, owner: UserRef, seeded: UserRef | undefined): SeedError {
  const who = owner.is_superadmin ? `a holder of the ${SUPERADMIN_ROLE} role` : `a user without the ${SUPERADMIN_ROLE} role`;
  const keep =
    seeded === undefined
      ? `set SUPERADMIN_EMAIL to an address no user has (the seed then creates the superadmin with it)`
      : `set SUPERADMIN_EMAIL back to ${seeded.email} (the seeded superadmin's current address, user ${seeded.public_id}) ` +
        `or to an address no user has (the seed then moves the seeded superadmin to it)`;
  const promote =
    seeded === undefined && !owner.is_superadmin
      ? `, or, if that user should be the superadmin, assign it the ${SUPERADMIN_ROLE} role (the seed then adopts it)`
      : "";
  return new SeedError(
    `SUPERADMIN_EMAIL is ${email}, but that address belongs to user ${owner.public_id}, ${who}, ` +
      `who is not the seeded superadmin. The seed does not rename or take over another account. ` +
      `Either ${keep}, or change that user's email (UpdateUser) first${promote}.`,
  );
}
