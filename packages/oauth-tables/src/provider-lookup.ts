import { openSecret, SealedSecretError } from "@altalune/core";
import type { Queryable } from "@altalune/db";
import { callbackPath, resolveEndpoints, type ResolvedEndpoints } from "./provider-endpoints.js";
import {
  oauthProviderColumns,
  oauthProviderFromRow,
  oauthProviderSecretContext,
  providerTypeOfRow,
  type OAuthProviderRow,
  type ProviderType,
} from "./provider-table.js";

// What the auth server reads to drive social logins: plain functions over the table, with no
// dependency on the API's pipeline, services or protos. Defaults are applied here, so a caller
// never needs to know them.

/** A provider as the login page lists it. */
export interface LoginProvider {
  slug: string;
  providerType: ProviderType;
  /** The page shows "Continue with <displayName>". */
  displayName: string;
}

/** Everything needed to run a login with one provider, the client secret in plaintext. */
export type ProviderConfig = {
  /** Public id of the provider row. */
  id: string;
  providerType: ProviderType;
  slug: string;
  displayName: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  /** A disabled provider must not start a login. */
  enabled: boolean;
  /** `/login/<slug>/callback`, to be appended to the auth server's issuer URL. */
  callbackPath: string;
} & ResolvedEndpoints;

export type ProviderConfigProblem = "encryption_key_missing" | "secret_unreadable";

/** The provider exists but its secret cannot be used: a server configuration problem. */
export class ProviderConfigError extends Error {
  constructor(
    readonly slug: string,
    readonly reason: ProviderConfigProblem,
  ) {
    super(
      reason === "encryption_key_missing"
        ? `OAuth provider '${slug}': ENCRYPTION_KEY is not configured, the client secret cannot be opened`
        : `OAuth provider '${slug}': the client secret does not open with the configured ENCRYPTION_KEY`,
    );
    this.name = "ProviderConfigError";
  }
}

/** Enabled providers in a stable order: the fixed types first (google, github, microsoft, apple), then oidc ones by name. */
export async function listEnabledProviders(sql: Queryable): Promise<LoginProvider[]> {
  const rows = await sql<{ slug: string; provider_type: string; display_name: string }[]>`
    select slug, provider_type, display_name from altalune_oauth_providers
    where enabled
    order by array_position(array['google', 'github', 'microsoft', 'apple', 'oidc']::varchar[], provider_type),
             lower(display_name), slug`;
  return rows.map((r) => ({ slug: r.slug, providerType: providerTypeOfRow(r.provider_type), displayName: r.display_name }));
}

/**
 * The provider whose login URL is `/login/<slug>` (any case), enabled or not, with its secret
 * opened; undefined when there is none. Throws ProviderConfigError when the secret cannot be
 * opened (no key, or another key than the one it was sealed with).
 */
export async function findProviderBySlug(sql: Queryable, slug: string, encryptionKey: Buffer | undefined): Promise<ProviderConfig | undefined> {
  const [row] = await sql<(OAuthProviderRow & { client_secret_sealed: string })[]>`
    select ${sql(oauthProviderColumns)}, client_secret_sealed
    from altalune_oauth_providers where slug = ${slug.toLowerCase()}`;
  if (row === undefined) return undefined;
  if (encryptionKey === undefined) throw new ProviderConfigError(row.slug, "encryption_key_missing");
  let clientSecret: string;
  try {
    clientSecret = openSecret(encryptionKey, row.client_secret_sealed, oauthProviderSecretContext(row.public_id));
  } catch (e) {
    if (e instanceof SealedSecretError) throw new ProviderConfigError(row.slug, "secret_unreadable");
    throw e;
  }
  const p = oauthProviderFromRow(row);
  return {
    id: p.publicId,
    providerType: p.providerType,
    slug: p.slug,
    displayName: p.displayName,
    clientId: p.clientId,
    clientSecret,
    scopes: p.scopes,
    enabled: p.enabled,
    callbackPath: callbackPath(p.slug),
    ...resolveEndpoints(p),
  };
}
