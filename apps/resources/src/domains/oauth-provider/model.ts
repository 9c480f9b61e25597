// The upstream identity providers' rules, with no dependency on the API layer: the service, the
// auth server's lookup (lookup.ts) and the tests share them.
import type { OutboundPolicy } from "@altalune/core";

export const PROVIDER_TYPES = ["google", "github", "microsoft", "apple", "oidc"] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/** Types that exist at most once and whose slug is the type itself. */
export type FixedProviderType = Exclude<ProviderType, "oidc">;
/** Types driven through OpenID Connect discovery from an issuer (GitHub is plain OAuth 2.0). */
export type OidcProviderType = Exclude<ProviderType, "github">;

export function isProviderType(value: string): value is ProviderType {
  return (PROVIDER_TYPES as readonly string[]).includes(value);
}

/** A provider_type read from the table, whose check constraint allows only PROVIDER_TYPES. */
export function providerTypeOfRow(value: string): ProviderType {
  if (!isProviderType(value)) throw new Error(`unknown provider_type in altalune_oauth_providers: ${value}`);
  return value;
}

/**
 * Scopes sign-in always asks for, whatever the provider's `scopes` add: openid for the ID token
 * (how the auth server learns who signed in), email for the verified address, the profile for the
 * names; GitHub's user and verified e-mails; Apple's name and email.
 */
export const BASE_SCOPES: Readonly<Record<ProviderType, readonly string[]>> = {
  google: ["openid", "email", "profile"],
  microsoft: ["openid", "email", "profile"],
  oidc: ["openid", "email", "profile"],
  github: ["read:user", "user:email"],
  apple: ["name", "email"],
};

export const DEFAULT_ISSUERS: Readonly<Record<Exclude<OidcProviderType, "oidc">, string>> = {
  google: "https://accounts.google.com",
  microsoft: "https://login.microsoftonline.com/common/v2.0",
  apple: "https://appleid.apple.com",
};

export const GITHUB_DEFAULT_ENDPOINTS = {
  authorizationEndpoint: "https://github.com/login/oauth/authorize",
  tokenEndpoint: "https://github.com/login/oauth/access_token",
  userinfoEndpoint: "https://api.github.com/user",
} as const;

export const DEFAULT_DISPLAY_NAMES: Readonly<Record<FixedProviderType, string>> = {
  google: "Google",
  github: "GitHub",
  microsoft: "Microsoft",
  apple: "Apple",
};

/**
 * Slugs an oidc provider may not take: the fixed types (whose slug is the type, so taking one
 * would block creating that provider later), the generic type's name, the words the original's
 * login pages use next to `/login/<slug>`, and `system`, the identity provider name the seed
 * writes for the superadmin (the slug becomes the identities' `provider`: a provider named
 * `system` could sign in as those users).
 */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([...PROVIDER_TYPES, "email", "otp", "system"]);

export const SLUG_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const SLUG_MAX_LENGTH = 40;

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

export interface NewOAuthProvider extends OAuthProviderSettings {
  /** sealSecret(key, secret, secretContext(publicId)). */
  secretSealed: string;
}

export type EndpointField = "issuerUrl" | "authorizationEndpoint" | "tokenEndpoint" | "userinfoEndpoint";

/** An UpdateOAuthProvider request: absent fields stay; a null endpoint goes back to the default. */
export interface OAuthProviderChanges {
  clientId?: string;
  secretSealed?: string;
  scopes?: string[];
  enabled?: boolean;
  displayName?: string;
  issuerUrl?: string | null;
  authorizationEndpoint?: string | null;
  tokenEndpoint?: string | null;
  userinfoEndpoint?: string | null;
}

/**
 * The associated data a provider's secret is sealed with: a sealed value copied onto another
 * provider's row does not open. The auth server opens it with the same context.
 */
export function secretContext(publicId: string): string {
  return `oauth_provider:${publicId}`;
}

/** The path of the callback the auth server serves for a provider, under its issuer. */
export function callbackPath(slug: string): string {
  return `/login/${slug}/callback`;
}

/** The callback URL to register with the upstream provider: `<AUTH_ISSUER>/login/<slug>/callback`. */
export function callbackUrl(authIssuer: string, slug: string): string {
  return authIssuer.replace(/\/+$/, "") + callbackPath(slug);
}

/**
 * Why a provider URL is refused (a rule id), or undefined: an absolute https URL with a host, no
 * credentials and no fragment, and what the outbound policy allows without DNS (the auth server
 * checks the resolved address again at every request): no address literal or localhost that is
 * not public, plain http only to loopback outside production. An issuer has no query either
 * (OpenID Connect Discovery §4.3 compares it exactly, and the discovery URL is built by
 * appending to it).
 */
export function providerUrlProblem(url: string, kind: "issuer" | "endpoint", outbound: OutboundPolicy): string | undefined {
  if (/[\s\p{Cc}]/u.test(url)) return "url.invalid";
  if (!/^https?:/i.test(url)) return "url.scheme";
  // Checked on the text: URL parsing would read "https:///x" as host "x".
  if (!/^https?:\/\/[^/\\?#]/i.test(url)) return "url.host";
  if (!URL.canParse(url)) return "url.invalid";
  const parsed = new URL(url);
  if (parsed.hostname === "") return "url.host";
  if (parsed.username !== "" || parsed.password !== "") return "url.credentials";
  if (url.includes("#")) return "url.no_fragment";
  if (kind === "issuer" && url.includes("?")) return "url.no_query";
  return outbound.urlProblem(parsed);
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
