import { invalidArgument } from "@altalune/core";
import { domainErrors } from "../../shared/domain-errors.js";

export const ApiKeyCodes = { NotFound: "60401", AlreadyExists: "60402", Expired: "60403" } as const;

const apiKey = domainErrors("API key", "api_key_id");

export const { notFound: apiKeyNotFound, alreadyExists: apiKeyAlreadyExists } = apiKey.notFoundAndAlreadyExists(ApiKeyCodes, "name");

export const apiKeyExpired = apiKey.aboutRow(
  ApiKeyCodes.Expired,
  "failed_precondition",
  "API key has expired: give it a new expiration with UpdateApiKey before activating it",
);

export const expirationInPast = () =>
  invalidArgument("expiration must be in the future", { expiration: "timestamp.gt_now" });

export const expirationTooFar = () =>
  invalidArgument("expiration cannot be more than 2 years in the future", { expiration: "timestamp.within" });
