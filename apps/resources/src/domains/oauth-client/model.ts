import type { OAuthClientSettings } from "@altalune/oauth-tables";
import { API_SCOPES, isApiScope } from "@altalune/rpc";

/** OIDC scopes a client may be allowed, in their canonical order (API scopes follow them, sorted). */
export const KNOWN_SCOPES = ["openid", "profile", "email", "offline_access"] as const;
export type OAuthScope = (typeof KNOWN_SCOPES)[number];

/** A client created without a scope list gets these (the table's default too). */
export const DEFAULT_SCOPES: readonly OAuthScope[] = ["openid", "profile", "email"];
/** The first-party dashboard client: every scope, refresh tokens included. */
export const DASHBOARD_SCOPES: readonly OAuthScope[] = KNOWN_SCOPES;

export interface NewOAuthClient extends OAuthClientSettings {
  /** sealSecret(...) of the secret for a confidential client, null for a public one. */
  secretSealed: string | null;
}

/** An UpdateOAuthClient request: absent fields stay as they are. */
export interface OAuthClientChanges {
  name?: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  allowedScopes?: string[];
  pkceRequired?: boolean;
  projectIds?: string[];
}

/** Same elements in the same order (redirect URI lists are compared as written). */
export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const OIDC_SCOPES: ReadonlySet<string> = new Set(KNOWN_SCOPES);

/** The index of the first scope that is neither an OIDC scope nor an API scope (root is neither). */
export function unknownScopeIndex(scopes: readonly string[]): number {
  return scopes.findIndex((s) => !OIDC_SCOPES.has(s) && !isApiScope(s));
}

/** Distinct scopes in canonical order: the OIDC ones, then the API scopes sorted (unknown ones refused before). */
export function canonicalScopes(scopes: readonly string[]): string[] {
  return [...KNOWN_SCOPES.filter((s) => scopes.includes(s)), ...API_SCOPES.filter((s) => scopes.includes(s))];
}

/** The API scopes among a client's allowed scopes. */
export const apiScopesOf = (scopes: readonly string[]): string[] => scopes.filter(isApiScope);

/**
 * Why a redirect URI is refused (a rule id), or undefined. The original system's rule — an http(s)
 * URL with a host and no `*` or `?` anywhere — plus no fragment, which OAuth forbids in a
 * redirection endpoint (RFC 6749 §3.1.2). The auth server matches redirect URIs exactly, so
 * wildcards would never match anyway; refusing them says so at the time of the mistake.
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.includes("*")) return "redirect_uri.no_wildcard";
  if (uri.includes("#")) return "redirect_uri.no_fragment";
  if (uri.includes("?")) return "redirect_uri.no_query";
  if (!/^https?:/i.test(uri)) return "redirect_uri.scheme";
  // Checked on the text: URL parsing would read "http:///cb" as host "cb".
  if (!/^https?:\/\/[^/\\]/i.test(uri)) return "redirect_uri.host";
  if (!URL.canParse(uri)) return "redirect_uri.url";
  if (new URL(uri).hostname === "") return "redirect_uri.host";
  return undefined;
}
