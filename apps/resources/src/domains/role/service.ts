import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  CreateRoleRequest,
  DeleteRoleRequest,
  GetRoleRequest,
  QueryRolesRequest,
  RoleService as RoleServiceDesc,
  UpdateRoleRequest,
} from "@altalune/proto";
import { requireTrimmedName } from "../../shared/names.js";
import { NamedEntityHandlers } from "../../shared/named-entity-handlers.js";
import { roleToProto } from "./mapper.js";
import type { RoleRepo } from "./repo.js";

// The proto's min_len counts the untrimmed name; the stored one is trimmed.
const NAME_MIN_LEN = 2;

export class RoleService implements ServiceImpl<typeof RoleServiceDesc> {
  private readonly handlers;

  constructor(roles: RoleRepo) {
    this.handlers = new NamedEntityHandlers(roles, {
      key: "role",
      label: "Role",
      toProto: roleToProto,
      storedName: (name) => requireTrimmedName("name", name, NAME_MIN_LEN),
    });
  }

  async queryRoles(req: QueryRolesRequest) {
    return this.handlers.query(req.query);
  }

  async createRole(req: CreateRoleRequest) {
    return this.handlers.create(req);
  }

  async getRole(req: GetRoleRequest) {
    return this.handlers.get(req.id);
  }

  async updateRole(req: UpdateRoleRequest, ctx: HandlerContext) {
    return this.handlers.update(req, ctx);
  }

  async deleteRole(req: DeleteRoleRequest, ctx: HandlerContext) {
    return this.handlers.delete(req.id, ctx);
  }
}
