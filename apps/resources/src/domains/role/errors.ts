import { AppError } from "@altalune/core";

export const RoleCodes = {
  NotFound: "60600",
  AlreadyExists: "60601",
  Protected: "60604",
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
