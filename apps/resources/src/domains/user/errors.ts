import { domainErrors } from "../../shared/domain-errors.js";

export const UserCodes = { NotFound: "60500", AlreadyExists: "60501", AlreadyActive: "60503", AlreadyInactive: "60504" } as const;

const user = domainErrors("User", "user_id");

export const { notFound: userNotFound, alreadyExists: userAlreadyExists } = user.notFoundAndAlreadyExists(UserCodes, "email");

export const userAlreadyActive = user.aboutRow(UserCodes.AlreadyActive, "failed_precondition", "User is already active");

export const userAlreadyInactive = user.aboutRow(UserCodes.AlreadyInactive, "failed_precondition", "User is already inactive");
