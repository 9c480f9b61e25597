import { domainError, domainErrors } from "../../shared/domain-errors.js";
import { SUPERADMIN_ROLE } from "./model.js";

export const RoleCodes = { NotFound: "60600", AlreadyExists: "60601", Protected: "60604", LastSuperadmin: "60605" } as const;

const role = domainErrors("Role", "role_id");

export const { notFound: roleNotFound, alreadyExists: roleAlreadyExists } = role.notFoundAndAlreadyExists(RoleCodes, "name");

// FailedPrecondition rather than the original's PermissionDenied: no caller may do this, and
// PermissionDenied is reserved for what the caller's permissions decide.
export const roleProtected = (name: string) =>
  domainError(RoleCodes.Protected, "failed_precondition", `Role '${name}' is protected and cannot be deleted or renamed`, { role_name: name });

// FailedPrecondition, like 60604: no caller's permissions make this allowed. Once authorization is
// enforced, a database without a superadmin may have nobody left who can grant the role again.
export const lastSuperadmin = (userPublicId: string) =>
  domainError(
    RoleCodes.LastSuperadmin,
    "failed_precondition",
    `User is the last holder of the '${SUPERADMIN_ROLE}' role: assign the role to another user before ` +
      "removing it from this one or deleting this user",
    { user_id: userPublicId, role_name: SUPERADMIN_ROLE },
  );
