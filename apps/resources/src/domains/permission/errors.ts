import { AppError } from "@altalune/core";

export const PermissionCodes = {
  NotFound: "60700",
  AlreadyExists: "60701",
  Protected: "60705",
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
// PermissionDenied is reserved for what the caller's permissions decide.
export const permissionProtected = (name: string) =>
  new AppError({
    code: PermissionCodes.Protected,
    status: "failed_precondition",
    message: `Permission '${name}' is protected and cannot be deleted or renamed`,
    meta: { permission_name: name },
  });
