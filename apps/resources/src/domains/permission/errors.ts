import { ROOT_PERMISSION } from "@altalune/core";
import { domainError, domainErrors } from "../../shared/domain-errors.js";
import { SUPERADMIN_ROLE } from "../role/index.js";

export const PermissionCodes = {
  NotFound: "60700",
  AlreadyExists: "60701",
  Protected: "60705",
  RootOfSuperadmin: "60706",
  SystemPermission: "60707",
} as const;

const permission = domainErrors("Permission", "permission_id");

export const { notFound: permissionNotFound, alreadyExists: permissionAlreadyExists } = permission.notFoundAndAlreadyExists(PermissionCodes, "name");

// FailedPrecondition rather than the original's PermissionDenied: no caller may do this, and
// PermissionDenied is reserved for what the caller's permissions decide. `root` keeps its own
// code (60705); every other system permission answers 60707.
export const permissionProtected = (row: { name: string; systemKey: string }) =>
  row.systemKey === ROOT_PERMISSION
    ? domainError(PermissionCodes.Protected, "failed_precondition", `Permission '${row.name}' is protected and cannot be deleted or renamed`, {
        permission_name: row.name,
      })
    : domainError(
        PermissionCodes.SystemPermission,
        "failed_precondition",
        `Permission '${row.name}' is a system permission (the API's rules name it): it cannot be deleted or renamed`,
        { permission_name: row.name, system_key: row.systemKey },
      );

// The superadmin role is what `root` is held through; without the mapping every superadmin loses
// all access at once. FailedPrecondition, like 60705: no caller's permissions make it allowed.
export const rootOfSuperadmin = () =>
  domainError(PermissionCodes.RootOfSuperadmin, "failed_precondition", `Permission '${ROOT_PERMISSION}' cannot be removed from the '${SUPERADMIN_ROLE}' role`, {
    role_name: SUPERADMIN_ROLE,
    permission_name: ROOT_PERMISSION,
  });
