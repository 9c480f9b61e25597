import type { Sql } from "@altalune/db";
import { NamedEntityRepo } from "../../shared/named-entity.js";
import { permissionAlreadyExists, permissionNotFound, permissionProtected } from "./errors.js";
import { ROOT_PERMISSION } from "./model.js";

export class PermissionRepo extends NamedEntityRepo {
  constructor(sql: Sql) {
    super(sql, {
      table: "altalune_permissions",
      nameUnique: "ux_altalune_permissions_name",
      protectedName: ROOT_PERMISSION,
      notFound: permissionNotFound,
      alreadyExists: permissionAlreadyExists,
      protectedEntity: permissionProtected,
    });
  }
}
