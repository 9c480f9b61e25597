import { AppError, invalidArgument } from "@altalune/core";

export const OAuthProviderCodes = {
  NotFound: "60810",
  AlreadyExists: "60811",
  SecretSealFailed: "60812",
  SecretUnreadable: "60813",
  EncryptionKeyMissing: "60814",
} as const;

export const oauthProviderNotFound = (publicId: string) =>
  new AppError({
    code: OAuthProviderCodes.NotFound,
    status: "not_found",
    message: `OAuth provider with ID '${publicId}' not found`,
    meta: { provider_id: publicId },
  });

/** The original's message and meta; there is one provider per fixed type. */
export const duplicateProviderType = (providerType: string) =>
  new AppError({
    code: OAuthProviderCodes.AlreadyExists,
    status: "already_exists",
    message: `OAuth provider with type '${providerType}' already exists`,
    meta: { provider_type: providerType },
  });

/** oidc providers may be several, each with its own slug. */
export const duplicateSlug = (slug: string) =>
  new AppError({
    code: OAuthProviderCodes.AlreadyExists,
    status: "already_exists",
    message: `OAuth provider with slug '${slug}' already exists`,
    meta: { slug },
  });

/** The server has no ENCRYPTION_KEY: a configuration gap, not the caller's mistake. */
export const encryptionKeyMissing = () =>
  new AppError({
    code: OAuthProviderCodes.EncryptionKeyMissing,
    status: "failed_precondition",
    message: "ENCRYPTION_KEY is not configured on this server: provider client secrets can be neither sealed nor revealed",
  });

export const secretSealFailed = (publicId: string) =>
  new AppError({
    code: OAuthProviderCodes.SecretSealFailed,
    status: "internal",
    message: "the provider client secret cannot be encrypted with the configured ENCRYPTION_KEY",
    meta: { provider_id: publicId },
  });

/** The sealed secret does not open with the configured key (the key changed, or the row was altered). */
export const secretUnreadable = (publicId: string) =>
  new AppError({
    code: OAuthProviderCodes.SecretUnreadable,
    status: "internal",
    message: "the provider client secret cannot be decrypted with the configured ENCRYPTION_KEY",
    meta: { provider_id: publicId },
  });

/** A domain input rule (60001, field → rule id), like a proto violation. */
export const invalidField = (field: string, rule: string, message: string) => invalidArgument(message, { [field]: rule });
