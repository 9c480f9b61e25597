import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  CreatePermissionRequest,
  DeletePermissionRequest,
  GetPermissionRequest,
  PermissionService as PermissionServiceDesc,
  QueryPermissionsRequest,
  UpdatePermissionRequest,
} from "@altalune/proto";
import { NamedEntityHandlers } from "../../shared/named-entity-handlers.js";
import { permissionToProto } from "./mapper.js";
import type { PermissionRepo } from "./repo.js";

export class PermissionService implements ServiceImpl<typeof PermissionServiceDesc> {
  private readonly handlers;

  constructor(permissions: PermissionRepo) {
    this.handlers = new NamedEntityHandlers(permissions, {
      key: "permission",
      label: "Permission",
      toProto: permissionToProto,
      // The proto's pattern admits no white space, so names arrive exactly as they are stored; the
      // database's CHECK on the same pattern is the backstop.
      storedName: (name) => name,
    });
  }

  async queryPermissions(req: QueryPermissionsRequest) {
    return this.handlers.query(req.query);
  }

  async createPermission(req: CreatePermissionRequest) {
    return this.handlers.create(req);
  }

  async getPermission(req: GetPermissionRequest) {
    return this.handlers.get(req.id);
  }

  async updatePermission(req: UpdatePermissionRequest, ctx: HandlerContext) {
    return this.handlers.update(req, ctx);
  }

  async deletePermission(req: DeletePermissionRequest, ctx: HandlerContext) {
    return this.handlers.delete(req.id, ctx);
  }
}
