import type { Sql } from "@altalune/db";
import { NamedEntityRepo } from "../../shared/named-entity.js";
import { refuseChangingRole } from "../iam/index.js";
import { roleAlreadyExists, roleNotFound, roleProtected } from "./errors.js";
import { SUPERADMIN_ROLE } from "./model.js";

export class RoleRepo extends NamedEntityRepo {
  constructor(sql: Sql) {
    super(sql, {
      table: "altalune_roles",
      nameUnique: "ux_altalune_roles_name",
      // The default `user` role may be renamed or deleted: it is found by its key, not its name.
      protectedKeys: [SUPERADMIN_ROLE],
      notFound: roleNotFound,
      alreadyExists: roleAlreadyExists,
      protectedEntity: (row) => roleProtected(row.name),
      refuseChange: refuseChangingRole,
    });
  }
}
