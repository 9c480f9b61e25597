import type { Sql } from "@altalune/db";
import { NamedEntityRepo } from "../../shared/named-entity.js";
import { roleAlreadyExists, roleNotFound, roleProtected } from "./errors.js";
import { SUPERADMIN_ROLE } from "./model.js";

export class RoleRepo extends NamedEntityRepo {
  constructor(sql: Sql) {
    super(sql, {
      table: "altalune_roles",
      nameUnique: "ux_altalune_roles_name",
      protectedName: SUPERADMIN_ROLE,
      notFound: roleNotFound,
      alreadyExists: roleAlreadyExists,
      protectedEntity: roleProtected,
    });
  }
}
