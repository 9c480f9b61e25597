import { invalidArgument } from "@altalune/core";
import { domainError, domainErrors } from "../../shared/domain-errors.js";

export const OAuthProviderCodes = {
  NotFound: "60810",
  AlreadyExists: "60811",
  SecretSealFailed: "60812",
  SecretUnreadable: "60813",
  EncryptionKeyMissing: "60814",
} as const;

const provider = domainErrors("OAuth provider", "provider_id");

export const oauthProviderNotFound = provider.notFound(OAuthProviderCodes.NotFound);

/** The original's message and meta; there is one provider per fixed type. */
export const duplicateProviderType = provider.alreadyExists(OAuthProviderCodes.AlreadyExists, "type", "provider_type");

/** oidc providers may be several, each with its own slug. */
export const duplicateSlug = provider.alreadyExists(OAuthProviderCodes.AlreadyExists, "slug");

/** The server has no ENCRYPTION_KEY: a configuration gap, not the caller's mistake. */
export const encryptionKeyMissing = () =>
  domainError(
    OAuthProviderCodes.EncryptionKeyMissing,
    "failed_precondition",
    "ENCRYPTION_KEY is not configured on this server: provider client secrets can be neither sealed nor revealed",
  );

export const secretSealFailed = provider.aboutRow(
  OAuthProviderCodes.SecretSealFailed,
  "internal",
  "the provider client secret cannot be encrypted with the configured ENCRYPTION_KEY",
);

/** The sealed secret does not open with the configured key (the key changed, or the row was altered). */
export const secretUnreadable = provider.aboutRow(
  OAuthProviderCodes.SecretUnreadable,
  "internal",
  "the provider client secret cannot be decrypted with the configured ENCRYPTION_KEY",
);

/** A domain input rule (60001, field → rule id), like a proto violation. */
export const invalidField = (field: string, rule: string, message: string) => invalidArgument(message, { [field]: rule });
