import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  CreatePermissionRequest,
  DeletePermissionRequest,
  GetPermissionRequest,
  PermissionService as PermissionServiceDesc,
  QueryPermissionsRequest,
  UpdatePermissionRequest,
} from "@altalune/proto";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { grantorOf } from "../iam/delegation.js";
import { permissionToProto } from "./mapper.js";
import type { PermissionRepo } from "./repo.js";

// The proto's pattern admits no white space, so names arrive exactly as they are stored; the
// database's CHECK on the same pattern is the backstop.
export class PermissionService implements ServiceImpl<typeof PermissionServiceDesc> {
  constructor(private readonly permissions: PermissionRepo) {}

  async queryPermissions(req: QueryPermissionsRequest) {
    const result = await this.permissions.query(listQueryFromProto(req.query));
    return { data: result.rows.map(permissionToProto), meta: queryMetaToProto(result) };
  }

  async createPermission(req: CreatePermissionRequest) {
    const permission = await this.permissions.create({ name: req.name, description: req.description.trim() });
    return { permission: permissionToProto(permission), message: "Permission created successfully" };
  }

  async getPermission(req: GetPermissionRequest) {
    return { permission: permissionToProto(await this.permissions.getByPublicId(req.id)) };
  }

  async updatePermission(req: UpdatePermissionRequest, ctx: HandlerContext) {
    const permission = await this.permissions.update(
      { publicId: req.id, name: req.name, description: req.description.trim() },
      grantorOf(ctx),
    );
    return { permission: permissionToProto(permission), message: "Permission updated successfully" };
  }

  async deletePermission(req: DeletePermissionRequest, ctx: HandlerContext) {
    await this.permissions.delete(req.id, grantorOf(ctx));
    return { message: "Permission deleted successfully" };
  }
}
