import { RoleService as RoleServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { RoleRepo } from "./repo.js";
import { roleService } from "./service.js";

export { lastSuperadmin, roleNotFound } from "./errors.js";
export { roleColumns, roleFromRow, roleToProto, type RoleRow } from "./mapper.js";
export { DEFAULT_USER_ROLE, SUPERADMIN_ROLE, type Role } from "./model.js";

export const roleDomain = defineDomain({
  key: "role",
  service: RoleServiceDesc,
  create: (deps) => roleService(new RoleRepo(deps.sql)),
});
