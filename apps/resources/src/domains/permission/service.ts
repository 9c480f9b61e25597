import type { ServiceImpl } from "@connectrpc/connect";
import type { PermissionService as PermissionServiceDesc } from "@altalune/proto";
import { namedEntityService } from "../../shared/named-entity-handlers.js";
import { permissionToProto } from "./mapper.js";
import type { PermissionRepo } from "./repo.js";

export function permissionService(permissions: PermissionRepo): ServiceImpl<typeof PermissionServiceDesc> {
  return namedEntityService(permissions, {
    key: "permission",
    label: "Permission",
    toProto: permissionToProto,
    // The proto's pattern admits no white space, so names arrive exactly as they are stored; the
    // database's CHECK on the same pattern is the backstop.
    storedName: (name) => name,
  });
}
