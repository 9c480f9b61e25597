import { describe, expect, it } from "vitest";
import { newPublicId } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { seed } from "../../seed.js";
import { freshDatabases } from "../../testing/fresh-databases.js";
import { SEED_PERMISSIONS, SeedError } from "./seed.js";

const freshDatabase = freshDatabases();

const quiet = { info: () => {} };
const seedWith = (sql: Sql, superadminEmail = "admin@altalune.local") => seed(sql, quiet, { superadminEmail });

const TABLES = [
  "altalune_projects",
  "altalune_users",
  "altalune_roles",
  "altalune_permissions",
  "altalune_users_roles",
  "altalune_roles_permissions",
  "altalune_users_permissions",
  "altalune_project_members",
  "altalune_user_identities",
] as const;

async function counts(sql: Sql): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)}`;
    out[table.replace("altalune_", "")] = row?.n ?? 0;
  }
  return out;
}

/** Every row of every seeded table, timestamps included: "changes nothing" means this is equal. */
async function snapshot(sql: Sql): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await sql<{ r: string }[]>`select t::text as r from ${sql(table)} t`;
    out[table] = rows.map((x) => x.r).sort();
  }
  return out;
}

async function superadmins(sql: Sql) {
  return sql<{ public_id: string; email: string; is_active: boolean; email_verified: boolean }[]>`
    select u.public_id, u.email, u.is_active, u.email_verified from altalune_users u
    join altalune_users_roles ur on ur.user_id = u.id join altalune_roles r on r.id = ur.role_id
    where r.name = 'superadmin' order by u.id`;
}

/** The users marked as the seeded superadmin (at most one: the identity is unique). */
async function seededMarks(sql: Sql) {
  return sql<{ email: string; identity_email: string | null }[]>`
    select u.email, i.email as identity_email from altalune_user_identities i join altalune_users u on u.id = i.user_id
    where i.provider = 'system' and i.provider_user_id = 'superadmin'`;
}

/** An operator's own account holding the superadmin role, as an operator would make one. */
async function operatorSuperadmin(sql: Sql, email: string): Promise<string> {
  const publicId = newPublicId();
  await sql`insert into altalune_users (public_id, email, first_name, last_name) values (${publicId}, ${email}, 'Olga', 'Operator')`;
  await sql`
    insert into altalune_users_roles (user_id, role_id)
    select u.id, r.id from altalune_users u, altalune_roles r where u.public_id = ${publicId} and r.name = 'superadmin'`;
  return publicId;
}

const FRESH_COUNTS = {
  projects: 1,
  users: 1,
  roles: 2,
  permissions: 35,
  users_roles: 1,
  roles_permissions: 2,
  users_permissions: 0,
  project_members: 1,
  // The `system` identity that marks the seeded superadmin.
  user_identities: 1,
};

describe("seed", () => {
  it("fills a fresh database with exactly the seed", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    expect(await counts(sql)).toEqual(FRESH_COUNTS);

    const roles = await sql<{ name: string; permissions: string[] }[]>`
      select r.name, coalesce(array_agg(p.name order by p.name) filter (where p.id is not null), '{}') as permissions
      from altalune_roles r
      left join altalune_roles_permissions rp on rp.role_id = r.id left join altalune_permissions p on p.id = rp.permission_id
      group by r.name order by r.name`;
    expect(roles).toEqual([
      { name: "superadmin", permissions: ["root"] },
      { name: "user", permissions: ["dashboard:read"] },
    ]);

    const permissions = await sql<{ name: string }[]>`select name from altalune_permissions order by name`;
    const expected = ["root", "dashboard:read", "iam:read", "iam:write", "audit:read"];
    for (const entity of ["employee", "user", "role", "permission", "project", "apikey", "chatbot", "client", "provider", "member"]) {
      for (const action of ["read", "write", "delete"]) expected.push(`${entity}:${action}`);
    }
    expect(permissions.map((p) => p.name)).toEqual(expected.sort());
    expect(SEED_PERMISSIONS.map((p) => p.name).sort()).toEqual(expected);

    expect(await superadmins(sql)).toEqual([
      { public_id: expect.stringMatching(/^[23456789abcdefghjklmnpqrstuvwxyz]{14}$/), email: "admin@altalune.local", is_active: true, email_verified: true },
    ]);
    const owners = await sql`
      select u.email, m.role from altalune_project_members m
      join altalune_users u on u.id = m.user_id join altalune_projects p on p.id = m.project_id
      where p.is_default`;
    expect(owners).toEqual([{ email: "admin@altalune.local", role: "owner" }]);
    expect(await seededMarks(sql)).toEqual([{ email: "admin@altalune.local", identity_email: "admin@altalune.local" }]);
  });

  it("changes nothing when run again, or by two processes at once", async () => {
    const sql = await freshDatabase();
    await Promise.all([seedWith(sql), seedWith(sql)]);
    expect(await counts(sql)).toEqual(FRESH_COUNTS);
    const before = await snapshot(sql);
    await seedWith(sql);
    await seedWith(sql);
    expect(await snapshot(sql)).toEqual(before);
  });

  it("follows a changed SUPERADMIN_EMAIL by renaming the same superadmin", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    const [before] = await superadmins(sql);
    await seedWith(sql, "root@example.org");
    expect(await superadmins(sql)).toEqual([{ ...before, email: "root@example.org" }]);
    expect(await seededMarks(sql)).toEqual([{ email: "root@example.org", identity_email: "root@example.org" }]);
    expect(await counts(sql)).toEqual(FRESH_COUNTS);
    const renamed = await snapshot(sql);
    await seedWith(sql, "root@example.org");
    expect(await snapshot(sql)).toEqual(renamed);
  });

  it("refuses an address that belongs to a user without the superadmin role, saying what to do, changing nothing", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    const someone = newPublicId();
    await sql`insert into altalune_users (public_id, email) values (${someone}, 'someone@example.org')`;
    const before = await snapshot(sql);
    const e = await seedWith(sql, "someone@example.org").then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(SeedError);
    expect((e as Error).message).toBe(
      `SUPERADMIN_EMAIL is someone@example.org, but that address belongs to user ${someone}, a user without the superadmin role, ` +
        "who is not the seeded superadmin. The seed does not rename or take over another account. " +
        `Either set SUPERADMIN_EMAIL back to admin@altalune.local (the seeded superadmin's current address, user ${(await superadmins(sql))[0]!.public_id}) ` +
        "or to an address no user has (the seed then moves the seeded superadmin to it), or change that user's email (UpdateUser) first.",
    );
    expect(await snapshot(sql)).toEqual(before);
  });

  it("never renames an operator's own superadmin account: the seeded one is recreated when deleted", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    const operator = await operatorSuperadmin(sql, "olga@example.org");
    // The operator deletes the seeded superadmin; the next start (same or changed address)
    // creates a new one and leaves the operator's account alone.
    for (const email of ["admin@altalune.local", "ops@example.org"]) {
      await sql`
        delete from altalune_users u using altalune_user_identities i
        where i.user_id = u.id and i.provider = 'system' and i.provider_user_id = 'superadmin'`;
      await seedWith(sql, email);
      const [olga] = await sql`select email, first_name from altalune_users where public_id = ${operator}`;
      expect(olga).toEqual({ email: "olga@example.org", first_name: "Olga" });
      expect((await superadmins(sql)).map((u) => u.email).sort()).toEqual([email, "olga@example.org"].sort());
      expect(await seededMarks(sql)).toEqual([{ email, identity_email: email }]);
      const owners = await sql`
        select u.email from altalune_project_members m join altalune_users u on u.id = m.user_id
        join altalune_projects p on p.id = m.project_id where p.is_default and m.role = 'owner'`;
      expect(owners).toContainEqual({ email });
    }
  });

  it("refuses an address that belongs to another superadmin, changing nothing", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    const operator = await operatorSuperadmin(sql, "olga@example.org");
    const before = await snapshot(sql);
    await expect(seedWith(sql, "olga@example.org")).rejects.toThrow(
      new RegExp(
        `^SUPERADMIN_EMAIL is olga@example\\.org, but that address belongs to user ${operator}, a holder of the superadmin role, ` +
          "who is not the seeded superadmin\\. .* Either set SUPERADMIN_EMAIL back to admin@altalune\\.local ",
      ),
    );
    expect(await snapshot(sql)).toEqual(before);
  });

  it("with no seeded superadmin, refuses an address of a user without the role, and suggests granting it", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    await sql`delete from altalune_users`;
    await sql`insert into altalune_users (public_id, email) values (${newPublicId()}, 'admin@altalune.local')`;
    const before = await snapshot(sql);
    await expect(seedWith(sql)).rejects.toThrow(
      /Either set SUPERADMIN_EMAIL to an address no user has \(the seed then creates the superadmin with it\), or change that user's email \(UpdateUser\) first, or, if that user should be the superadmin, assign it the superadmin role \(the seed then adopts it\)\.$/,
    );
    expect(await snapshot(sql)).toEqual(before);
  });

  it("adopts the superadmin with SUPERADMIN_EMAIL in a database seeded before the mark existed", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    const [admin] = await superadmins(sql);
    await sql`delete from altalune_user_identities`;
    await seedWith(sql);
    expect(await superadmins(sql)).toEqual([admin]);
    expect(await seededMarks(sql)).toEqual([{ email: "admin@altalune.local", identity_email: "admin@altalune.local" }]);
    expect(await counts(sql)).toEqual(FRESH_COUNTS);
    // From now on it is the seeded superadmin: it follows the address.
    await seedWith(sql, "root@example.org");
    expect(await superadmins(sql)).toEqual([{ ...admin, email: "root@example.org" }]);
  });

  it("finds the superadmin by role and the default project by flag, whatever their ids", async () => {
    const sql = await freshDatabase();
    // Rows that would take id 1 in a database where the original's seed assumptions hold.
    await sql`insert into altalune_users (public_id, email) values (${newPublicId()}, 'first@example.org')`;
    await sql`
      insert into altalune_projects (public_id, name, timezone, environment) values (${newPublicId()}, 'Older project', 'UTC', 'live')`;
    await seedWith(sql);
    const [admin] = await superadmins(sql);
    expect(admin?.email).toBe("admin@altalune.local");
    const memberships = await sql`
      select u.email, p.name, m.role from altalune_project_members m
      join altalune_users u on u.id = m.user_id join altalune_projects p on p.id = m.project_id order by p.name`;
    expect(memberships).toEqual([{ email: "admin@altalune.local", name: "Default Project", role: "owner" }]);
    const [first] = await sql`
      select count(*)::int as n from altalune_users_roles ur join altalune_users u on u.id = ur.user_id where u.email = 'first@example.org'`;
    expect(first).toEqual({ n: 0 });
  });

  it("restores the seeded superadmin's role and ownership of the default project and keeps operator changes elsewhere", async () => {
    const sql = await freshDatabase();
    await seedWith(sql);
    const [admin] = await superadmins(sql);
    await sql`delete from altalune_users_roles`;
    await sql`update altalune_project_members set role = 'admin'`;
    await sql`update altalune_roles set description = 'Changed by an operator' where name = 'user'`;
    await seedWith(sql);
    expect(await superadmins(sql)).toEqual([admin]);
    const [m] = await sql`select role from altalune_project_members`;
    expect(m).toEqual({ role: "owner" });
    const [r] = await sql`select description from altalune_roles where name = 'user'`;
    expect(r).toEqual({ description: "Changed by an operator" });
  });
});
