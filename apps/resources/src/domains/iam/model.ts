import type { User } from "../user/model.js";

/** Project roles, most privileged first. Membership itself is what grants project access. */
export const PROJECT_ROLES = ["owner", "admin", "member", "user"] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

/** Every project keeps at least one once it has had one. */
export const OWNER_ROLE: ProjectRole = "owner";

export function isProjectRole(value: string): value is ProjectRole {
  return (PROJECT_ROLES as readonly string[]).includes(value);
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
