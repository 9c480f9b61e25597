import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  CreateRoleRequest,
  DeleteRoleRequest,
  GetRoleRequest,
  QueryRolesRequest,
  RoleService as RoleServiceDesc,
  UpdateRoleRequest,
} from "@altalune/proto";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { requireTrimmedName } from "../../shared/names.js";
import { grantorOf } from "../iam/delegation.js";
import { roleToProto } from "./mapper.js";
import type { RoleRepo } from "./repo.js";

// The proto's min_len counts the untrimmed name; the stored one is trimmed.
const NAME_MIN_LEN = 2;

export class RoleService implements ServiceImpl<typeof RoleServiceDesc> {
  constructor(private readonly roles: RoleRepo) {}

  async queryRoles(req: QueryRolesRequest) {
    const result = await this.roles.query(listQueryFromProto(req.query));
    return { data: result.rows.map(roleToProto), meta: queryMetaToProto(result) };
  }

  async createRole(req: CreateRoleRequest) {
    const role = await this.roles.create({
      name: requireTrimmedName("name", req.name, NAME_MIN_LEN),
      description: req.description.trim(),
    });
    return { role: roleToProto(role), message: "Role created successfully" };
  }

  async getRole(req: GetRoleRequest) {
    return { role: roleToProto(await this.roles.getByPublicId(req.id)) };
  }

  async updateRole(req: UpdateRoleRequest, ctx: HandlerContext) {
    const role = await this.roles.update(
      { publicId: req.id, name: requireTrimmedName("name", req.name, NAME_MIN_LEN), description: req.description.trim() },
      grantorOf(ctx),
    );
    return { role: roleToProto(role), message: "Role updated successfully" };
  }

  async deleteRole(req: DeleteRoleRequest, ctx: HandlerContext) {
    await this.roles.delete(req.id, grantorOf(ctx));
    return { message: "Role deleted successfully" };
  }
}
