import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  AssignProjectMembersRequest,
  AssignRolePermissionsRequest,
  AssignUserPermissionsRequest,
  AssignUserRolesRequest,
  GetProjectMembersRequest,
  GetRolePermissionsRequest,
  GetUserPermissionsRequest,
  GetUserProjectsRequest,
  GetUserRolesRequest,
  IAMMapperService as IAMMapperServiceDesc,
  RemoveProjectMembersRequest,
  RemoveRolePermissionsRequest,
  RemoveUserPermissionsRequest,
  RemoveUserRolesRequest,
} from "@altalune/proto";
import { permissionToProto } from "../permission/index.js";
import { roleToProto } from "../role/index.js";
import { grantorOf } from "./delegation.js";
import { duplicateMember } from "./errors.js";
import { memberToProto, userProjectToProto } from "./mapper.js";
import { asProjectRole, type MemberAssignment } from "./model.js";
import { ROLE_PERMISSIONS, USER_PERMISSIONS, USER_ROLES, type IamRepo } from "./repo.js";

/** One role per user per call: two entries for one user would leave the outcome to their order. */
function memberAssignments(req: AssignProjectMembersRequest): MemberAssignment[] {
  const seen = new Set<string>();
  return req.members.map((m) => {
    if (seen.has(m.userId)) throw duplicateMember(m.userId);
    seen.add(m.userId);
    // The proto's `in` rule has already refused other roles (60001, meta members[i].role).
    return { userPublicId: m.userId, role: asProjectRole(m.role) };
  });
}

export class IamMapperService implements ServiceImpl<typeof IAMMapperServiceDesc> {
  constructor(private readonly iam: IamRepo) {}

  async assignUserRoles(req: AssignUserRolesRequest, ctx: HandlerContext) {
    await this.iam.assign(USER_ROLES, req.userId, req.roleIds, grantorOf(ctx));
    return {};
  }

  async removeUserRoles(req: RemoveUserRolesRequest, ctx: HandlerContext) {
    await this.iam.remove(USER_ROLES, req.userId, req.roleIds, grantorOf(ctx));
    return {};
  }

  async getUserRoles(req: GetUserRolesRequest) {
    return { roles: (await this.iam.rolesOfUser(req.userId)).map(roleToProto) };
  }

  async assignRolePermissions(req: AssignRolePermissionsRequest, ctx: HandlerContext) {
    await this.iam.assign(ROLE_PERMISSIONS, req.roleId, req.permissionIds, grantorOf(ctx));
    return {};
  }

  async removeRolePermissions(req: RemoveRolePermissionsRequest, ctx: HandlerContext) {
    await this.iam.remove(ROLE_PERMISSIONS, req.roleId, req.permissionIds, grantorOf(ctx));
    return {};
  }

  async getRolePermissions(req: GetRolePermissionsRequest) {
    return { permissions: (await this.iam.permissionsOfRole(req.roleId)).map(permissionToProto) };
  }

  async assignUserPermissions(req: AssignUserPermissionsRequest, ctx: HandlerContext) {
    await this.iam.assign(USER_PERMISSIONS, req.userId, req.permissionIds, grantorOf(ctx));
    return {};
  }

  async removeUserPermissions(req: RemoveUserPermissionsRequest, ctx: HandlerContext) {
    await this.iam.remove(USER_PERMISSIONS, req.userId, req.permissionIds, grantorOf(ctx));
    return {};
  }

  async getUserPermissions(req: GetUserPermissionsRequest) {
    return { permissions: (await this.iam.effectivePermissionsOfUser(req.userId)).map(permissionToProto) };
  }

  async assignProjectMembers(req: AssignProjectMembersRequest) {
    await this.iam.assignMembers(req.projectId, memberAssignments(req));
    return {};
  }

  async removeProjectMembers(req: RemoveProjectMembersRequest) {
    await this.iam.removeMembers(req.projectId, req.userIds);
    return {};
  }

  async getProjectMembers(req: GetProjectMembersRequest) {
    return { members: (await this.iam.membersOfProject(req.projectId)).map(memberToProto) };
  }

  async getUserProjects(req: GetUserProjectsRequest) {
    return { projects: (await this.iam.projectsOfUser(req.userId)).map(userProjectToProto) };
  }
}
