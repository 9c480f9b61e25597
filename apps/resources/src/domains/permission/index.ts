import { PermissionService as PermissionServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { PermissionRepo } from "./repo.js";
import { permissionService } from "./service.js";

export { permissionNotFound, rootOfSuperadmin } from "./errors.js";
export { permissionColumns, permissionFromRow, permissionToProto, type PermissionRow } from "./mapper.js";
export type { Permission } from "./model.js";

export const permissionDomain = defineDomain({
  key: "permission",
  service: PermissionServiceDesc,
  create: (deps) => permissionService(new PermissionRepo(deps.sql)),
});
