import { invalidArgument } from "@altalune/core";
import { domainError, domainErrors } from "../../shared/domain-errors.js";
import { DelegationCodes } from "../iam/index.js";

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

const client = domainErrors("OAuth client", "client_id");

export const oauthClientNotFound = client.notFound(OAuthClientCodes.NotFound);

// FailedPrecondition like the default project (60303): no caller's permissions make this allowed
// (the original answered 60001).
export const defaultClientUndeletable = client.aboutRow(
  OAuthClientCodes.DefaultUndeletable,
  "failed_precondition",
  "cannot delete default dashboard client",
);

export const pkceCannotBeDisabled = (publicId: string, why: "public" | "default") =>
  domainError(
    OAuthClientCodes.PkceRequired,
    "failed_precondition",
    why === "public" ? "PKCE cannot be disabled for public clients" : "PKCE cannot be disabled for the default dashboard client",
    { client_id: publicId, reason: why === "public" ? "public_client" : "default_client" },
  );

/**
 * The first-party dashboard client skips consent and its codes are exchanged by the BFF, so a
 * redirect URI added to it would hand any signed-in user's code to whoever owns that URI. Its
 * redirect URIs therefore come from DASHBOARD_REDIRECT_URIS only (the seed writes them).
 */
export const firstPartyRedirectUrisFixed = client.aboutRow(
  OAuthClientCodes.FirstPartyRedirectUrisFixed,
  "failed_precondition",
  "the redirect URIs of the default dashboard client come from DASHBOARD_REDIRECT_URIS and cannot be changed through the API",
  { field: "redirect_uris" },
);

export const defaultClientSecretNotRevealed = client.aboutRow(
  OAuthClientCodes.DefaultClientSecret,
  "failed_precondition",
  "the default dashboard client's secret comes from DASHBOARD_CLIENT_SECRET and is not revealed through the API",
);

export const { encryptionKeyMissing, secretUnreadable } = client.sealedSecret(OAuthClientCodes, "client secret");

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
  domainError(
    DelegationCodes.Escalation,
    "permission_denied",
    `permission denied: you may only give a client projects you are a member of (${missing.join(", ")})`,
    { reason: "escalation", target: "projects", missing: missing.join(",") },
  );

/**
 * The secret of a client holding API scopes or projects is those rights: a client:read holder who
 * could read it could act as the client. Revealing it needs client:write and everything it holds.
 */
export const privilegedSecretRefused = (publicId: string, missing: readonly string[]) =>
  domainError(
    OAuthClientCodes.PrivilegedSecret,
    "permission_denied",
    `permission denied: revealing the secret of a client with API scopes or projects requires client:write and holding all of them (missing: ${missing.join(", ")})`,
    { reason: "privileged_secret", client_id: publicId, missing: missing.join(",") },
  );
