import type { ServiceImpl } from "@connectrpc/connect";
import type { RoleService as RoleServiceDesc } from "@altalune/proto";
import { requireTrimmedName } from "../../shared/names.js";
import { namedEntityService } from "../../shared/named-entity-handlers.js";
import { roleToProto } from "./mapper.js";
import type { RoleRepo } from "./repo.js";

// The proto's min_len counts the untrimmed name; the stored one is trimmed.
const NAME_MIN_LEN = 2;

export function roleService(roles: RoleRepo): ServiceImpl<typeof RoleServiceDesc> {
  return namedEntityService(roles, {
    key: "role",
    label: "Role",
    toProto: roleToProto,
    storedName: (name) => requireTrimmedName("name", name, NAME_MIN_LEN),
  });
}
