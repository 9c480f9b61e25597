import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ProjectMemberWithUserSchema,
  UserProjectMembershipSchema,
  type ProjectMemberWithUser,
  type UserProjectMembership as UserProjectMembershipMessage,
} from "@altalune/proto";
import { userFromRow, userToProto, type UserRow } from "../user/index.js";
import { asProjectRole, type ProjectMember, type UserProjectMembership } from "./model.js";

export interface MemberRow extends UserRow {
  member_role: string;
  joined_at: Date;
}

export interface UserProjectRow {
  project_public_id: string;
  project_name: string;
  role: string;
  joined_at: Date;
}

export function memberFromRow(row: MemberRow): ProjectMember {
  return { user: userFromRow(row), role: asProjectRole(row.member_role), joinedAt: row.joined_at };
}

export function userProjectFromRow(row: UserProjectRow): UserProjectMembership {
  return {
    projectPublicId: row.project_public_id,
    projectName: row.project_name,
    role: asProjectRole(row.role),
    joinedAt: row.joined_at,
  };
}

export function memberToProto(m: ProjectMember): ProjectMemberWithUser {
  return create(ProjectMemberWithUserSchema, {
    user: userToProto(m.user),
    role: m.role,
    createdAt: timestampFromDate(m.joinedAt),
  });
}

export function userProjectToProto(m: UserProjectMembership): UserProjectMembershipMessage {
  return create(UserProjectMembershipSchema, {
    projectId: m.projectPublicId,
    projectName: m.projectName,
    role: m.role,
    joinedAt: timestampFromDate(m.joinedAt),
  });
}
