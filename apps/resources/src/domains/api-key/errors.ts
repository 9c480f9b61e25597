import { AppError, invalidArgument } from "@altalune/core";

export const ApiKeyCodes = {
  NotFound: "60401",
  AlreadyExists: "60402",
  Expired: "60403",
} as const;

export const apiKeyNotFound = (publicId: string) =>
  new AppError({
    code: ApiKeyCodes.NotFound,
    status: "not_found",
    message: `API key with ID '${publicId}' not found`,
    meta: { api_key_id: publicId },
  });

export const apiKeyAlreadyExists = (name: string) =>
  new AppError({
    code: ApiKeyCodes.AlreadyExists,
    status: "already_exists",
    message: `API key with name '${name}' already exists`,
    meta: { name },
  });

export const apiKeyExpired = (publicId: string) =>
  new AppError({
    code: ApiKeyCodes.Expired,
    status: "failed_precondition",
    message: "API key has expired: give it a new expiration with UpdateApiKey before activating it",
    meta: { api_key_id: publicId },
  });

export const expirationInPast = () =>
  invalidArgument("expiration must be in the future", { expiration: "timestamp.gt_now" });

export const expirationTooFar = () =>
  invalidArgument("expiration cannot be more than 2 years in the future", { expiration: "timestamp.within" });
