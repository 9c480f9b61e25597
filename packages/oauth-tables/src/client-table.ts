// altalune_oauth_clients: the row, its columns and the model it becomes, with no protos.
// OAuthClientService (Resources API) manages the table through them; the auth server's ClientStore
// reads the settings columns.

/** What a client is, as stored, whether read back or about to be written. */
export interface OAuthClientSettings {
  name: string;
  /** The OAuth client_id: a UUID, lower case. */
  clientId: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedScopes: string[];
  pkceRequired: boolean;
  confidential: boolean;
  /** Public ids of the projects its client_credentials tokens may act in. */
  projectIds: string[];
}

export interface OAuthClient extends OAuthClientSettings {
  publicId: string;
  isDefault: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** The columns that make a client what it is to the auth server. */
export interface OAuthClientSettingsRow {
  client_id: string;
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  allowed_scopes: string[];
  pkce_required: boolean;
  is_default: boolean;
  confidential: boolean;
}

export interface OAuthClientRow extends OAuthClientSettingsRow {
  public_id: string;
  created_at: Date;
  updated_at: Date;
}

/** The columns of OAuthClientSettingsRow. */
export const oauthClientSettingsColumns = [
  "name",
  "client_id",
  "redirect_uris",
  "post_logout_redirect_uris",
  "allowed_scopes",
  "pkce_required",
  "is_default",
  "confidential",
] as const;

/** Everything but the sealed secret, which only the reveal path reads (projects: the repo's projectsOf). */
export const oauthClientColumns = ["public_id", ...oauthClientSettingsColumns, "created_at", "updated_at"] as const;

export function oauthClientFromRow(row: OAuthClientRow, projectIds: string[]): OAuthClient {
  return {
    publicId: row.public_id,
    name: row.name,
    clientId: row.client_id,
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris,
    allowedScopes: row.allowed_scopes,
    pkceRequired: row.pkce_required,
    isDefault: row.is_default,
    confidential: row.confidential,
    projectIds,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The associated data a client's secret is sealed with: a sealed value copied onto another
 * client's row does not open. The service and the seed seal with it, the auth server opens with it.
 */
export function oauthClientSecretContext(clientId: string): string {
  return `oauth_client:${clientId.toLowerCase()}`;
}
