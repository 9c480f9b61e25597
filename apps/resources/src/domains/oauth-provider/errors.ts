import { invalidArgument } from "@altalune/core";
import { domainErrors } from "../../shared/domain-errors.js";

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

export const { encryptionKeyMissing, secretUnreadable } = provider.sealedSecret(OAuthProviderCodes, "provider client secret");

export const secretSealFailed = provider.aboutRow(
  OAuthProviderCodes.SecretSealFailed,
  "internal",
  "the provider client secret cannot be encrypted with the configured ENCRYPTION_KEY",
);

/** A domain input rule (60001, field → rule id), like a proto violation. */
export const invalidField = (field: string, rule: string, message: string) => invalidArgument(message, { [field]: rule });
