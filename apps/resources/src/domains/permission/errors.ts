import { AppError, ROOT_PERMISSION } from "@altalune/core";
import { SUPERADMIN_ROLE } from "../role/model.js";

export const PermissionCodes = {
  NotFound: "60700",
  AlreadyExists: "60701",
  Protected: "60705",
  RootOfSuperadmin: "60706",
  SystemPermission: "60707",
} as const;

export const permissionNotFound = (publicId: string) =>
  new AppError({
    code: PermissionCodes.NotFound,
    status: "not_found",
    message: `Permission with ID '${publicId}' not found`,
    meta: { permission_id: publicId },
  });

export const permissionAlreadyExists = (name: string) =>
  new AppError({
    code: PermissionCodes.AlreadyExists,
    status: "already_exists",
    message: `Permission with name '${name}' already exists`,
    meta: { name },
  });

// FailedPrecondition rather than the original's PermissionDenied: no caller may do this, and
// PermissionDenied is reserved for what the caller's permissions decide. `root` keeps its own
// code (60705); every other system permission answers 60707.
export const permissionProtected = (row: { name: string; systemKey: string }) =>
  row.systemKey === ROOT_PERMISSION
    ? new AppError({
        code: PermissionCodes.Protected,
        status: "failed_precondition",
        message: `Permission '${row.name}' is protected and cannot be deleted or renamed`,
        meta: { permission_name: row.name },
      })
    : new AppError({
        code: PermissionCodes.SystemPermission,
        status: "failed_precondition",
        message: `Permission '${row.name}' is a system permission (the API's rules name it): it cannot be deleted or renamed`,
        meta: { permission_name: row.name, system_key: row.systemKey },
      });

// The superadmin role is what `root` is held through; without the mapping every superadmin loses
// all access at once. FailedPrecondition, like 60705: no caller's permissions make it allowed.
export const rootOfSuperadmin = () =>
  new AppError({
    code: PermissionCodes.RootOfSuperadmin,
    status: "failed_precondition",
    message: `Permission '${ROOT_PERMISSION}' cannot be removed from the '${SUPERADMIN_ROLE}' role`,
    meta: { role_name: SUPERADMIN_ROLE, permission_name: ROOT_PERMISSION },
  });
