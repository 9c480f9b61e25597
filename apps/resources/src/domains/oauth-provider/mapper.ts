import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { OAuthProviderSchema, ProviderType as ProtoProviderType, type OAuthProvider as OAuthProviderMessage } from "@altalune/proto";
import { callbackUrl, providerTypeOfRow, type OAuthProvider, type ProviderType } from "./model.js";
import { formatScopes } from "./scopes.js";

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

const TO_PROTO: Readonly<Record<ProviderType, ProtoProviderType>> = {
  google: ProtoProviderType.GOOGLE,
  github: ProtoProviderType.GITHUB,
  microsoft: ProtoProviderType.MICROSOFT,
  apple: ProtoProviderType.APPLE,
  oidc: ProtoProviderType.OIDC,
};

/** The proto's enum as the domain's type; the proto's `defined_only` and `required` exclude the rest. */
export function providerTypeFromProto(value: ProtoProviderType): ProviderType {
  const found = (Object.entries(TO_PROTO) as Array<[ProviderType, ProtoProviderType]>).find(([, v]) => v === value);
  if (found === undefined) throw new Error(`unexpected provider type ${value}`);
  return found[0];
}

/** Never carries the secret: only RevealClientSecret does. */
export function oauthProviderToProto(p: OAuthProvider, authIssuer: string): OAuthProviderMessage {
  return create(OAuthProviderSchema, {
    id: p.publicId,
    providerType: TO_PROTO[p.providerType],
    clientId: p.clientId,
    clientSecretSet: true,
    redirectUrl: callbackUrl(authIssuer, p.slug),
    scopes: formatScopes(p.scopes),
    enabled: p.enabled,
    slug: p.slug,
    displayName: p.displayName,
    issuerUrl: p.issuerUrl ?? "",
    authorizationEndpoint: p.authorizationEndpoint ?? "",
    tokenEndpoint: p.tokenEndpoint ?? "",
    userinfoEndpoint: p.userinfoEndpoint ?? "",
    createdAt: timestampFromDate(p.createdAt),
    updatedAt: timestampFromDate(p.updatedAt),
  });
}
