import type { User } from "../user/index.js";

/** Project roles, most privileged first. Membership itself is what grants project access. */
export const PROJECT_ROLES = ["owner", "admin", "member", "user"] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

/** Every project keeps at least one once it has had one. */
export const OWNER_ROLE: ProjectRole = "owner";

export function isProjectRole(value: string): value is ProjectRole {
  return (PROJECT_ROLES as readonly string[]).includes(value);
}

/**
 * Narrows a role something else has already checked: the proto's `string.in` rule on requests,
 * the table's CHECK on rows. Anything else reaching here is a bug (or schema drift), not a client
 * mistake, so it fails as an internal error rather than with a client-facing code.
 */
export function asProjectRole(value: string): ProjectRole {
  if (!isProjectRole(value)) throw new Error(`unknown project role ${JSON.stringify(value)}`);
  return value;
}

export interface MemberAssignment {
  userPublicId: string;
  role: ProjectRole;
}

export interface ProjectMember {
  user: User;
  role: ProjectRole;
  joinedAt: Date;
}

export interface UserProjectMembership {
  projectPublicId: string;
  projectName: string;
  role: ProjectRole;
  joinedAt: Date;
}
