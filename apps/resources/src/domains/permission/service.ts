import type { ServiceImpl } from "@connectrpc/connect";
import type {
  CreatePermissionRequest,
  DeletePermissionRequest,
  GetPermissionRequest,
  PermissionService as PermissionServiceDesc,
  QueryPermissionsRequest,
  UpdatePermissionRequest,
} from "@altalune/proto";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
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

  async updatePermission(req: UpdatePermissionRequest) {
    const permission = await this.permissions.update({
      publicId: req.id,
      name: req.name,
      description: req.description.trim(),
    });
    return { permission: permissionToProto(permission), message: "Permission updated successfully" };
  }

  async deletePermission(req: DeletePermissionRequest) {
    await this.permissions.delete(req.id);
    return { message: "Permission deleted successfully" };
  }
}
