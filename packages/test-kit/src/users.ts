import { newPublicId } from "@altalune/core";
import type { Sql } from "@altalune/db";

export interface TestUser {
  id: string;
  publicId: string;
  email: string;
}

export interface TestUserSpec {
  email: string;
  active?: boolean;
  firstName?: string;
  lastName?: string;
  emailVerified?: boolean;
  /** Unset: never activated, as a user the auth server registered and nobody activated. */
  activatedAt?: Date;
  permissions?: string[];
  roles?: { name: string; permissions: string[] }[];
  projects?: { name: string; role: string }[];
}

/**
 * A user written straight into the database, with direct permissions, roles (created or reused
 * by name) and new projects it is a member of; `projects` maps each new project's public id to
 * the user's role in it.
 */
export async function createUser(sql: Sql, spec: TestUserSpec): Promise<TestUser & { projects: Record<string, string> }> {
  const [user] = await sql<{ id: string; public_id: string }[]>`
    insert into altalune_users (public_id, email, first_name, last_name, is_active, email_verified, activated_at)
    values (${newPublicId()}, ${spec.email}, ${spec.firstName ?? ""}, ${spec.lastName ?? ""}, ${spec.active ?? true},
            ${spec.emailVerified ?? false}, ${spec.activatedAt ?? null})
    returning id, public_id`;
  if (!user) throw new Error("user not created");
  const permissionId = async (name: string) => {
    const [row] = await sql<{ id: string }[]>`
      insert into altalune_permissions (public_id, name) values (${newPublicId()}, ${name})
      on conflict (lower(name)) do update set name = excluded.name returning id`;
    return row!.id;
  };
  for (const name of spec.permissions ?? []) {
    await sql`insert into altalune_users_permissions (user_id, permission_id) values (${user.id}, ${await permissionId(name)})`;
  }
  for (const role of spec.roles ?? []) {
    const [r] = await sql<{ id: string }[]>`
      insert into altalune_roles (public_id, name) values (${newPublicId()}, ${role.name})
      on conflict (lower(name)) do update set name = excluded.name returning id`;
    for (const p of role.permissions) {
      await sql`insert into altalune_roles_permissions (role_id, permission_id) values (${r!.id}, ${await permissionId(p)}) on conflict do nothing`;
    }
    await sql`insert into altalune_users_roles (user_id, role_id) values (${user.id}, ${r!.id})`;
  }
  const projects: Record<string, string> = {};
  for (const p of spec.projects ?? []) {
    const [proj] = await sql<{ id: string; public_id: string }[]>`
      insert into altalune_projects (public_id, name, timezone) values (${newPublicId()}, ${p.name}, 'UTC') returning id, public_id`;
    await sql`insert into altalune_project_members (project_id, user_id, role) values (${proj!.id}, ${user.id}, ${p.role})`;
    projects[proj!.public_id] = p.role;
  }
  return { id: user.id, publicId: user.public_id, email: spec.email, projects };
}
