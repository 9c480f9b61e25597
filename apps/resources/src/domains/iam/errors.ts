import { AppError, invalidArgument } from "@altalune/core";

export const IamCodes = {
  InvalidProjectRole: "60802",
  LastOwner: "60803",
} as const;

export const invalidProjectRole = (role: string) =>
  new AppError({
    code: IamCodes.InvalidProjectRole,
    status: "invalid_argument",
    message: `invalid project role: ${role} (must be one of: owner, admin, member, user)`,
    meta: { role },
  });

// Its own code and FailedPrecondition: the original answered the generic 60001.
export const lastOwner = (projectPublicId: string) =>
  new AppError({
    code: IamCodes.LastOwner,
    status: "failed_precondition",
    message: "cannot remove or demote the last owner of the project",
    meta: { project_id: projectPublicId },
  });

export const duplicateMember = (userPublicId: string) =>
  invalidArgument(`user ${userPublicId} appears more than once in members`, { members: "members.unique_user_id" });
