import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { OAuthProviderSchema, ProviderType as ProtoProviderType, type OAuthProvider as OAuthProviderMessage } from "@altalune/proto";
import type { OAuthProvider, ProviderType } from "@altalune/oauth-tables";
import { emptyWhenAbsent } from "../../shared/absent-text.js";
import { callbackUrl } from "./model.js";
import { formatScopes } from "./scopes.js";

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
    // NULL where the type's defaults apply.
    ...emptyWhenAbsent({
      issuerUrl: p.issuerUrl,
      authorizationEndpoint: p.authorizationEndpoint,
      tokenEndpoint: p.tokenEndpoint,
      userinfoEndpoint: p.userinfoEndpoint,
    }),
    createdAt: timestampFromDate(p.createdAt),
    updatedAt: timestampFromDate(p.updatedAt),
  });
}
