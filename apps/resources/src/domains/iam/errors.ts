import { invalidArgument } from "@altalune/core";
import { domainErrors } from "../../shared/domain-errors.js";

// 60802 (the original's invalid project role) stays reserved and unused: the proto's `string.in`
// rule on members[i].role refuses an unknown role with 60001 before any handler runs.
export const IamCodes = { LastOwner: "60803" } as const;

// Its own code and FailedPrecondition: the original answered the generic 60001.
export const lastOwner = domainErrors("Project", "project_id").aboutRow(
  IamCodes.LastOwner,
  "failed_precondition",
  "cannot remove, demote or delete the last owner of the project",
);

export const duplicateMember = (userPublicId: string) =>
  invalidArgument(`user ${userPublicId} appears more than once in members`, { members: "members.unique_user_id" });
