// A provider row and the model it becomes, with no protos: the repo and the auth server's lookup
// (lookup.ts) both read the table through it.
import { providerTypeOfRow, type OAuthProvider } from "./model.js";

export interface OAuthProviderRow {
  public_id: string;
  provider_type: string;
  slug: string;
  display_name: string;
  client_id: string;
  scopes: string[];
  enabled: boolean;
  issuer_url: string | null;
  authorization_endpoint: string | null;
  token_endpoint: string | null;
  userinfo_endpoint: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Everything but the sealed secret, which only the reveal path and the auth server's lookup read. */
export const oauthProviderColumns = [
  "public_id",
  "provider_type",
  "slug",
  "display_name",
  "client_id",
  "scopes",
  "enabled",
  "issuer_url",
  "authorization_endpoint",
  "token_endpoint",
  "userinfo_endpoint",
  "created_at",
  "updated_at",
] as const;

export function oauthProviderFromRow(row: OAuthProviderRow): OAuthProvider {
  return {
    publicId: row.public_id,
    providerType: providerTypeOfRow(row.provider_type),
    slug: row.slug,
    displayName: row.display_name,
    clientId: row.client_id,
    scopes: row.scopes,
    enabled: row.enabled,
    issuerUrl: row.issuer_url,
    authorizationEndpoint: row.authorization_endpoint,
    tokenEndpoint: row.token_endpoint,
    userinfoEndpoint: row.userinfo_endpoint,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
