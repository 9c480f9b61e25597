// altalune_oauth_providers, the upstream identity providers: the row, its columns and the model it
// becomes, with no protos. OAuthProviderService (Resources API) writes the table through them; the
// auth server reads it through provider-lookup.ts.

export const PROVIDER_TYPES = ["google", "github", "microsoft", "apple", "oidc"] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export function isProviderType(value: string): value is ProviderType {
  return (PROVIDER_TYPES as readonly string[]).includes(value);
}

/** A provider_type read from the table, whose check constraint allows only PROVIDER_TYPES. */
export function providerTypeOfRow(value: string): ProviderType {
  if (!isProviderType(value)) throw new Error(`unknown provider_type in altalune_oauth_providers: ${value}`);
  return value;
}

/** What a provider is, as stored, whether read back or about to be written. */
export interface OAuthProviderSettings {
  publicId: string;
  providerType: ProviderType;
  slug: string;
  displayName: string;
  clientId: string;
  scopes: string[];
  enabled: boolean;
  /** Stored overrides; null = the type's default. */
  issuerUrl: string | null;
  authorizationEndpoint: string | null;
  tokenEndpoint: string | null;
  userinfoEndpoint: string | null;
}

export interface OAuthProvider extends OAuthProviderSettings {
  createdAt: Date;
  updatedAt: Date;
}

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

/**
 * The associated data a provider's secret is sealed with: a sealed value copied onto another
 * provider's row does not open. The service seals with it, the auth server's lookup opens with it.
 */
export function oauthProviderSecretContext(publicId: string): string {
  return `oauth_provider:${publicId}`;
}
