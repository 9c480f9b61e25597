import { AppError, invalidArgument } from "@altalune/core";

// 60802 (the original's invalid project role) stays reserved and unused: the proto's `string.in`
// rule on members[i].role refuses an unknown role with 60001 before any handler runs.
export const IamCodes = {
  LastOwner: "60803",
} as const;

// Its own code and FailedPrecondition: the original answered the generic 60001.
export const lastOwner = (projectPublicId: string) =>
  new AppError({
    code: IamCodes.LastOwner,
    status: "failed_precondition",
    message: "cannot remove, demote or delete the last owner of the project",
    meta: { project_id: projectPublicId },
  });

export const duplicateMember = (userPublicId: string) =>
  invalidArgument(`user ${userPublicId} appears more than once in members`, { members: "members.unique_user_id" });
