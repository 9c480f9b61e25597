// Where the auth server talks to a provider: the stored overrides, or each type's defaults.
import type { OAuthProvider, ProviderType } from "./provider-table.js";

/** Types driven through OpenID Connect discovery from an issuer (GitHub is plain OAuth 2.0). */
type OidcProviderType = Exclude<ProviderType, "github">;

export type EndpointField = "issuerUrl" | "authorizationEndpoint" | "tokenEndpoint" | "userinfoEndpoint";

const DEFAULT_ISSUERS: Readonly<Record<Exclude<OidcProviderType, "oidc">, string>> = {
  google: "https://accounts.google.com",
  microsoft: "https://login.microsoftonline.com/common/v2.0",
  apple: "https://appleid.apple.com",
};

const GITHUB_DEFAULT_ENDPOINTS = {
  authorizationEndpoint: "https://github.com/login/oauth/authorize",
  tokenEndpoint: "https://github.com/login/oauth/access_token",
  userinfoEndpoint: "https://api.github.com/user",
} as const;

/** The path of the callback the auth server serves for a provider, under its issuer. */
export function callbackPath(slug: string): string {
  return `/login/${slug}/callback`;
}

/** The URL the auth server uses for each endpoint of a provider, defaults applied. */
export type ResolvedEndpoints =
  | { protocol: "oidc"; issuerUrl: string }
  | { protocol: "github"; authorizationEndpoint: string; tokenEndpoint: string; userinfoEndpoint: string; emailsEndpoint: string };

export function resolveEndpoints(p: Pick<OAuthProvider, "providerType" | EndpointField>): ResolvedEndpoints {
  if (p.providerType === "github") {
    const userinfoEndpoint = p.userinfoEndpoint ?? GITHUB_DEFAULT_ENDPOINTS.userinfoEndpoint;
    return {
      protocol: "github",
      authorizationEndpoint: p.authorizationEndpoint ?? GITHUB_DEFAULT_ENDPOINTS.authorizationEndpoint,
      tokenEndpoint: p.tokenEndpoint ?? GITHUB_DEFAULT_ENDPOINTS.tokenEndpoint,
      userinfoEndpoint,
      // GitHub's verified addresses live under the user resource (/user/emails), on GitHub
      // Enterprise Server too (/api/v3/user/emails).
      emailsEndpoint: `${userinfoEndpoint.replace(/\/+$/, "")}/emails`,
    };
  }
  const issuerUrl = p.issuerUrl ?? (p.providerType === "oidc" ? undefined : DEFAULT_ISSUERS[p.providerType]);
  // The table's check constraint makes an oidc row without an issuer impossible.
  if (issuerUrl === undefined) throw new Error(`oidc provider without an issuer URL`);
  return { protocol: "oidc", issuerUrl };
}
