import { AppError } from "@altalune/core";

export const UserCodes = {
  NotFound: "60500",
  AlreadyExists: "60501",
  AlreadyActive: "60503",
  AlreadyInactive: "60504",
} as const;

export const userNotFound = (publicId: string) =>
  new AppError({
    code: UserCodes.NotFound,
    status: "not_found",
    message: `User with ID '${publicId}' not found`,
    meta: { user_id: publicId },
  });

export const userAlreadyExists = (email: string) =>
  new AppError({
    code: UserCodes.AlreadyExists,
    status: "already_exists",
    message: `User with email '${email}' already exists`,
    meta: { email },
  });

export const userAlreadyActive = (publicId: string) =>
  new AppError({
    code: UserCodes.AlreadyActive,
    status: "failed_precondition",
    message: "User is already active",
    meta: { user_id: publicId },
  });

export const userAlreadyInactive = (publicId: string) =>
  new AppError({
    code: UserCodes.AlreadyInactive,
    status: "failed_precondition",
    message: "User is already inactive",
    meta: { user_id: publicId },
  });
