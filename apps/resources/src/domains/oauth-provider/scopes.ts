import type { ProviderType } from "@altalune/oauth-tables";
import { invalidField } from "./errors.js";
import { BASE_SCOPES } from "./model.js";

// The `scopes` field is one comma-separated string on the wire, as in the original system
// ("openid,email,profile"), and a list in the table (what the auth server asks the provider for).

/** The table's check constraint allows 1-20 scopes per provider. */
export const MAX_SCOPES = 20;
export const MAX_SCOPE_LENGTH = 100;

/**
 * An RFC 6749 scope-token (%x21 / %x23-5B / %x5D-7E: printable ASCII but space, `"` and `\`),
 * without the comma, which separates them here.
 */
const SCOPE_TOKEN = /^[!#-+\--[\]-~]+$/;

/**
 * The sent string as a list: split at commas, each item trimmed, empty items (", ," or a trailing
 * comma) ignored. Refuses what is not a scope token (a space inside an item usually means the
 * scopes were separated by spaces), items over 100 characters and repeated items, naming the item.
 */
export function parseScopes(value: string): string[] {
  const scopes: string[] = [];
  for (const item of value.split(",")) {
    const scope = item.trim();
    if (scope === "") continue;
    if (scope.length > MAX_SCOPE_LENGTH) {
      throw invalidField("scopes", "scopes.token_too_long", `scope '${scope.slice(0, 20)}…' is longer than ${MAX_SCOPE_LENGTH} characters`);
    }
    if (!SCOPE_TOKEN.test(scope)) {
      throw invalidField(
        "scopes",
        "scopes.invalid_token",
        `'${scope}' is not a scope: scopes are separated by commas and contain no spaces, quotes or backslashes`,
      );
    }
    if (scopes.includes(scope)) throw invalidField("scopes", "scopes.duplicate", `scope '${scope}' is listed twice`);
    scopes.push(scope);
  }
  return scopes;
}

/**
 * What sign-in asks the provider for: the scopes sent, in their order, then the type's base scopes
 * that are missing (without them the auth server cannot learn who signed in and their verified
 * address). So an empty string means "no extra scopes", and the list stored and returned is
 * exactly what is requested upstream.
 */
export function requestedScopes(providerType: ProviderType, sent: string): string[] {
  const scopes = parseScopes(sent);
  for (const base of BASE_SCOPES[providerType]) if (!scopes.includes(base)) scopes.push(base);
  if (scopes.length > MAX_SCOPES) {
    throw invalidField("scopes", "scopes.too_many", `at most ${MAX_SCOPES} scopes, the ${BASE_SCOPES[providerType].length} base scopes included`);
  }
  return scopes;
}

/** The wire form: comma-separated, no spaces. */
export const formatScopes = (scopes: readonly string[]): string => scopes.join(",");
