import { AppError } from "@altalune/core";
import { SUPERADMIN_ROLE } from "./model.js";

export const RoleCodes = {
  NotFound: "60600",
  AlreadyExists: "60601",
  Protected: "60604",
  LastSuperadmin: "60605",
} as const;

export const roleNotFound = (publicId: string) =>
  new AppError({
    code: RoleCodes.NotFound,
    status: "not_found",
    message: `Role with ID '${publicId}' not found`,
    meta: { role_id: publicId },
  });

export const roleAlreadyExists = (name: string) =>
  new AppError({
    code: RoleCodes.AlreadyExists,
    status: "already_exists",
    message: `Role with name '${name}' already exists`,
    meta: { name },
  });

// FailedPrecondition rather than the original's PermissionDenied: no caller may do this, and
// PermissionDenied is reserved for what the caller's permissions decide.
export const roleProtected = (name: string) =>
  new AppError({
    code: RoleCodes.Protected,
    status: "failed_precondition",
    message: `Role '${name}' is protected and cannot be deleted or renamed`,
    meta: { role_name: name },
  });

// FailedPrecondition, like 60604: no caller's permissions make this allowed. Once authorization is
// enforced, a database without a superadmin may have nobody left who can grant the role again.
export const lastSuperadmin = (userPublicId: string) =>
  new AppError({
    code: RoleCodes.LastSuperadmin,
    status: "failed_precondition",
    message:
      `User is the last holder of the '${SUPERADMIN_ROLE}' role: assign the role to another user before ` +
      "removing it from this one or deleting this user",
    meta: { user_id: userPublicId, role_name: SUPERADMIN_ROLE },
  });
