import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { OAuthClientSchema, type OAuthClient as OAuthClientMessage } from "@altalune/proto";
import type { OAuthClient } from "@altalune/oauth-tables";
import { apiScopesOf } from "./model.js";

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
