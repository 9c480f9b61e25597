import type { OutboundPolicy } from "@altalune/core";
import { requireTrimmedName } from "../../shared/names.js";
import { invalidField } from "./errors.js";
import type { EndpointField, OAuthProvider, ProviderType } from "@altalune/oauth-tables";
import { DEFAULT_DISPLAY_NAMES, providerUrlProblem, RESERVED_SLUGS, SLUG_MAX_LENGTH, SLUG_PATTERN } from "./model.js";

// Input rules the proto cannot express: trimming, per-type defaults, which URL applies to which
// type, and the URL policy. Each refusal is 60001 with meta {<proto field>: <rule id>}.

const ENDPOINT_FIELDS: ReadonlyArray<{ key: EndpointField; field: string; kind: "issuer" | "endpoint" }> = [
  { key: "issuerUrl", field: "issuer_url", kind: "issuer" },
  { key: "authorizationEndpoint", field: "authorization_endpoint", kind: "endpoint" },
  { key: "tokenEndpoint", field: "token_endpoint", kind: "endpoint" },
  { key: "userinfoEndpoint", field: "userinfo_endpoint", kind: "endpoint" },
];

const URL_RULE_MESSAGES: Readonly<Record<string, string>> = {
  "url.invalid": "is not a valid URL",
  "url.scheme": "must be an https URL",
  "url.host": "must have a host",
  "url.credentials": "must not contain credentials",
  "url.no_fragment": "must not contain a fragment",
  "url.no_query": "must not contain a query",
  "url.https_required": "must use https (plain http only to localhost, 127.0.0.1 and [::1], and not in production)",
  "url.private_address":
    "must not point at a loopback, private, link-local or other non-public address (a self-hosted provider on a private network needs the operator setting OUTBOUND_ALLOWED_HOSTS)",
};

export const fieldOf = (key: EndpointField): string => ENDPOINT_FIELDS.find((f) => f.key === key)?.field ?? key;

/** A trimmed URL override: "" means none (the type's default); anything else must pass the URL policy. */
export function urlOverride(key: EndpointField, value: string, outbound: OutboundPolicy): string | null {
  const trimmed = value.trim();
  if (trimmed === "") return null;
  const spec = ENDPOINT_FIELDS.find((f) => f.key === key);
  if (spec === undefined) throw new Error(`unknown endpoint field ${key}`);
  const rule = providerUrlProblem(trimmed, spec.kind, outbound);
  if (rule !== undefined) throw invalidField(spec.field, rule, `${spec.field} ${URL_RULE_MESSAGES[rule] ?? "is invalid"}: ${trimmed}`);
  return trimmed;
}

export const requiredText = (field: string, value: string): string => requireTrimmedName(field, value);

/**
 * The callback the server uses for a provider. The original stored a free-form redirect URL; here
 * it is derived, so a request may send it empty or equal to that URL (the original's edit form
 * sends back what it read). A different one is refused rather than ignored, so an operator never
 * registers a URL upstream that this server will not serve.
 */
export function checkRedirectUrl(sent: string, expected: string): void {
  const url = sent.trim();
  if (url === "" || url === expected) return;
  throw invalidField(
    "redirect_url",
    "redirect_url.mismatch",
    `redirect_url must be ${expected}: this server serves the provider's callback there (register that URL with the provider), not at ${url}`,
  );
}

/** The slug of a new provider: the type itself for a fixed type, a chosen one for oidc. */
export function slugFor(providerType: ProviderType, requested: string): string {
  const slug = requested.trim();
  if (providerType !== "oidc") {
    if (slug !== "" && slug !== providerType) {
      throw invalidField("slug", "slug.fixed", `the slug of a ${providerType} provider is '${providerType}'`);
    }
    return providerType;
  }
  if (slug === "") throw invalidField("slug", "slug.required", "an oidc provider needs a slug");
  // The proto's pattern already holds; checked again because lookups and the table rely on it.
  if (!SLUG_PATTERN.test(slug) || slug.length > SLUG_MAX_LENGTH) throw invalidField("slug", "string.pattern", `invalid slug: ${slug}`);
  if (RESERVED_SLUGS.has(slug)) throw invalidField("slug", "slug.reserved", `the slug '${slug}' is reserved`);
  return slug;
}

export function displayNameFor(providerType: ProviderType, slug: string, requested: string): string {
  const name = requested.trim();
  if (name !== "") return name;
  return providerType === "oidc" ? slug : DEFAULT_DISPLAY_NAMES[providerType];
}

/**
 * The rules that depend on the type, checked on the state about to be written (a new provider, or
 * the stored one with an update's changes applied): an oidc provider has an issuer, GitHub has
 * endpoints but no issuer, the others an issuer but no endpoints. (The scopes sign-in needs are
 * always added: scopes.ts.)
 */
export function checkProviderState(p: Pick<OAuthProvider, "providerType" | EndpointField>): void {
  if (p.providerType === "oidc" && p.issuerUrl === null) {
    throw invalidField("issuer_url", "issuer_url.required", "an oidc provider needs an issuer_url");
  }
  for (const { key, field } of ENDPOINT_FIELDS) {
    if (p[key] === null) continue;
    const applies = p.providerType === "github" ? key !== "issuerUrl" : key === "issuerUrl";
    if (!applies) throw invalidField(field, "field.not_applicable", `${field} does not apply to ${p.providerType} providers`);
  }
}
