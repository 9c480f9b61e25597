import type { Sql } from "@altalune/db";
import { NamedEntityRepo } from "../../shared/named-entity.js";
import { refuseGrantingPermissions } from "../iam/index.js";
import { permissionAlreadyExists, permissionNotFound, permissionProtected } from "./errors.js";

export class PermissionRepo extends NamedEntityRepo {
  constructor(sql: Sql) {
    super(sql, {
      table: "altalune_permissions",
      nameUnique: "ux_altalune_permissions_name",
      // Every system permission: a rule names it by key, and its name is that key.
      protectedKeys: "all",
      notFound: permissionNotFound,
      alreadyExists: permissionAlreadyExists,
      protectedEntity: permissionProtected,
      // Renaming or deleting a permission changes what its holders hold: only for one you hold.
      refuseChange: (tx, grantor, row) => refuseGrantingPermissions(tx, grantor, [row.id]),
    });
  }
}
