import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { OAuthProviderSchema, ProviderType as ProtoProviderType, type OAuthProvider as OAuthProviderMessage } from "@altalune/proto";
import type { OAuthProvider, ProviderType } from "@altalune/oauth-tables";
import { emptyWhenAbsent } from "../../shared/absent-text.js";
import { enumMapping } from "../../shared/enum-mapping.js";
import { callbackUrl } from "./model.js";
import { formatScopes } from "./scopes.js";

const providerTypes = enumMapping<ProviderType, ProtoProviderType>("provider type", {
  google: ProtoProviderType.GOOGLE,
  github: ProtoProviderType.GITHUB,
  microsoft: ProtoProviderType.MICROSOFT,
  apple: ProtoProviderType.APPLE,
  oidc: ProtoProviderType.OIDC,
});

/** The proto's enum as the domain's type; the proto's `defined_only` and `required` exclude the rest. */
export const providerTypeFromProto = providerTypes.fromProto;

/** Never carries the secret: only RevealClientSecret does. */
export function oauthProviderToProto(p: OAuthProvider, authIssuer: string): OAuthProviderMessage {
  return create(OAuthProviderSchema, {
    id: p.publicId,
    providerType: providerTypes.toProto(p.providerType),
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
