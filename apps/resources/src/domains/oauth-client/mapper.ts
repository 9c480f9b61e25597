import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { OAuthClientSchema, type OAuthClient as OAuthClientMessage } from "@altalune/proto";
import { apiScopesOf, type OAuthClient } from "./model.js";

/** The columns that make a client what it is to the auth server, which reads them too (ClientStore). */
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

/** Everything but the sealed secret, which only the reveal path reads (projects: repo.projectsOf). */
export const oauthClientColumns = [
  "public_id",
  "name",
  "client_id",
  "redirect_uris",
  "post_logout_redirect_uris",
  "allowed_scopes",
  "pkce_required",
  "is_default",
  "confidential",
  "created_at",
  "updated_at",
] as const;

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

/** Never carries the secret: only CreateOAuthClient and RevealOAuthClientSecret responses do. */
export function oauthClientToProto(c: OAuthClient): OAuthClientMessage {
  return create(OAuthClientSchema, {
    id: c.publicId,
    name: c.name,
    clientId: c.clientId,
    redirectUris: c.redirectUris,
    pkceRequired: c.pkceRequired,
    isDefault: c.isDefault,
    clientSecretSet: c.confidential,
    allowedScopes: c.allowedScopes,
    confidential: c.confidential,
    postLogoutRedirectUris: c.postLogoutRedirectUris,
    apiScopes: apiScopesOf(c.allowedScopes),
    projectIds: c.projectIds,
    createdAt: timestampFromDate(c.createdAt),
    updatedAt: timestampFromDate(c.updatedAt),
  });
}
