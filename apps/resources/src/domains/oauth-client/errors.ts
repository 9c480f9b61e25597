import { AppError, invalidArgument } from "@altalune/core";
import { DelegationCodes } from "../iam/delegation.js";

export const OAuthClientCodes = {
  NotFound: "60900",
  // 60901 (AlreadyExists) is reserved: names are not unique and client ids are generated.
  DefaultUndeletable: "60902",
  PkceRequired: "60903",
  EncryptionKeyMissing: "60904",
  SecretUnreadable: "60905",
  FirstPartyRedirectUrisFixed: "60906",
  // 60907 is reserved (an unknown project in project_ids answers the project domain's 60301).
  PrivilegedSecret: "60908",
  DefaultClientSecret: "60909",
} as const;

export const oauthClientNotFound = (publicId: string) =>
  new AppError({
    code: OAuthClientCodes.NotFound,
    status: "not_found",
    message: `OAuth client with ID '${publicId}' not found`,
    meta: { client_id: publicId },
  });

// FailedPrecondition like the default project (60303): no caller's permissions make this allowed
// (the original answered 60001).
export const defaultClientUndeletable = (publicId: string) =>
  new AppError({
    code: OAuthClientCodes.DefaultUndeletable,
    status: "failed_precondition",
    message: "cannot delete default dashboard client",
    meta: { client_id: publicId },
  });

export const pkceCannotBeDisabled = (publicId: string, why: "public" | "default") =>
  new AppError({
    code: OAuthClientCodes.PkceRequired,
    status: "failed_precondition",
    message: why === "public" ? "PKCE cannot be disabled for public clients" : "PKCE cannot be disabled for the default dashboard client",
    meta: { client_id: publicId, reason: why === "public" ? "public_client" : "default_client" },
  });

/**
 * The first-party dashboard client skips consent and its codes are exchanged by the BFF, so a
 * redirect URI added to it would hand any signed-in user's code to whoever owns that URI. Its
 * redirect URIs therefore come from DASHBOARD_REDIRECT_URIS only (the seed writes them).
 */
export const firstPartyRedirectUrisFixed = (publicId: string) =>
  new AppError({
    code: OAuthClientCodes.FirstPartyRedirectUrisFixed,
    status: "failed_precondition",
    message: "the redirect URIs of the default dashboard client come from DASHBOARD_REDIRECT_URIS and cannot be changed through the API",
    meta: { client_id: publicId, field: "redirect_uris" },
  });

export const defaultClientSecretNotRevealed = (publicId: string) =>
  new AppError({
    code: OAuthClientCodes.DefaultClientSecret,
    status: "failed_precondition",
    message: "the default dashboard client's secret comes from DASHBOARD_CLIENT_SECRET and is not revealed through the API",
    meta: { client_id: publicId },
  });

/** The server has no ENCRYPTION_KEY: a configuration gap, not the caller's mistake. */
export const encryptionKeyMissing = () =>
  new AppError({
    code: OAuthClientCodes.EncryptionKeyMissing,
    status: "failed_precondition",
    message: "ENCRYPTION_KEY is not configured on this server: client secrets can be neither sealed nor revealed",
  });

/** The sealed secret does not open with the configured key (the key changed, or the row was altered). */
export const secretUnreadable = (publicId: string) =>
  new AppError({
    code: OAuthClientCodes.SecretUnreadable,
    status: "internal",
    message: "the client secret cannot be decrypted with the configured ENCRYPTION_KEY",
    meta: { client_id: publicId },
  });

export const publicClientHasNoSecret = () =>
  invalidArgument("public clients do not have a client secret", { id: "oauth_client.public_no_secret" });

export const invalidRedirectUri = (field: string, uri: string, rule: string) =>
  invalidArgument(`invalid redirect URI: ${uri}`, { [field]: rule });

export const nothingToUpdate = () => invalidArgument("no fields to update", { "(message)": "update.no_fields" });

export const unknownScope = (index: number, scope: string) =>
  invalidArgument(
    scope === "root" ? "root is never an OAuth scope" : `unknown scope: ${scope}`,
    { [`allowed_scopes[${index}]`]: scope === "root" ? "scope.root" : "scope.unknown" },
  );

export const projectsNeedConfidentialClient = () =>
  invalidArgument("only confidential clients (client_credentials) can be given projects", { project_ids: "oauth_client.projects_confidential_only" });

/** Giving a client a project the caller is not a member of: the escalation rule (60013) for projects. */
export const projectsEscalation = (missing: readonly string[]) =>
  new AppError({
    code: DelegationCodes.Escalation,
    status: "permission_denied",
    message: `permission denied: you may only give a client projects you are a member of (${missing.join(", ")})`,
    meta: { reason: "escalation", target: "projects", missing: missing.join(",") },
  });

/**
 * The secret of a client holding API scopes or projects is those rights: a client:read holder who
 * could read it could act as the client. Revealing it needs client:write and everything it holds.
 */
export const privilegedSecretRefused = (publicId: string, missing: readonly string[]) =>
  new AppError({
    code: OAuthClientCodes.PrivilegedSecret,
    status: "permission_denied",
    message: `permission denied: revealing the secret of a client with API scopes or projects requires client:write and holding all of them (missing: ${missing.join(", ")})`,
    meta: { reason: "privileged_secret", client_id: publicId, missing: missing.join(",") },
  });
