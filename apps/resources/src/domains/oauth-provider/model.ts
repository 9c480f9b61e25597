// The upstream identity providers' rules the Resources API applies, with no dependency on the API
// layer: the service and the tests share them. What the auth server reads too (the row, the
// endpoints' defaults) is in @altalune/oauth-tables.
import type { OutboundPolicy } from "@altalune/core";
import { callbackPath, PROVIDER_TYPES, type OAuthProviderSettings, type ProviderType } from "@altalune/oauth-tables";

/** Types that exist at most once and whose slug is the type itself. */
export type FixedProviderType = Exclude<ProviderType, "oidc">;

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

export interface NewOAuthProvider extends OAuthProviderSettings {
  /** sealSecret(key, secret, oauthProviderSecretContext(publicId)). */
  secretSealed: string;
}

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
