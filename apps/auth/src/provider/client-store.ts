import { BoundedCache, openSecret, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { oauthClientSecretContext, oauthClientSettingsColumns, type OAuthClientSettingsRow } from "@altalune/oauth-tables";
import type { ClientMetadata } from "oidc-provider";

/**
 * OAuth clients come from altalune_oauth_clients, which OAuthClientService (Resources API) manages;
 * the auth server only reads it. Rows are cached for at most CLIENT_CACHE_TTL_MS, so a change (new
 * redirect URI, disabled PKCE, deleted client) reaches every running auth server within that bound.
 */
export const CLIENT_CACHE_TTL_MS = 2_000;
/**
 * Upper bound of the cache, so probing random client ids cannot grow memory without limit; when
 * full, the client read longest ago goes.
 */
const CLIENT_CACHE_MAX = 1_000;

/** Extra client metadata the provider carries for our policies (see configuration.ts). */
export const FIRST_PARTY = "altalune_first_party";
export const PKCE_REQUIRED = "altalune_pkce_required";

interface ClientRow extends OAuthClientSettingsRow {
  client_secret_sealed: string | null;
}

/**
 * The auth server's own account pages sign in through the provider like any application, as this
 * built-in first-party public client: not a row (OAuthClientService never lists, changes or deletes
 * it) and not a UUID, so no row can ever take its id.
 */
export const ACCOUNT_CLIENT_ID = "altalune-account";
export const ACCOUNT_CALLBACK_PATH = "/account/callback";

function accountClientMetadata(issuer: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: "your account",
    redirect_uris: [`${issuer.replace(/\/+$/, "")}${ACCOUNT_CALLBACK_PATH}`],
    post_logout_redirect_uris: [],
    // No refresh tokens: the pages read the provider's login session, never a token.
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    scope: "openid",
    [FIRST_PARTY]: true,
    [PKCE_REQUIRED]: true,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ClientStore {
  /**
   * Metadata (or "no such client") is served until `ttlMs` after the read began, so every answer
   * reflects the table as it was at most that long ago; the bound only causes re-reads.
   */
  private readonly cache: BoundedCache<string, ClientMetadata | undefined>;
  private readonly builtIn = new Map<string, ClientMetadata>();

  constructor(
    private readonly sql: Sql,
    private readonly encryptionKey: Buffer,
    private readonly logger: Logger,
    private readonly ttlMs = CLIENT_CACHE_TTL_MS,
  ) {
    this.cache = new BoundedCache({ maxEntries: CLIENT_CACHE_MAX });
  }

  /** Serves the account pages' built-in client (ACCOUNT_CLIENT_ID), redirecting to `issuer`'s callback. */
  enableAccountClient(issuer: string): void {
    this.builtIn.set(ACCOUNT_CLIENT_ID, accountClientMetadata(issuer));
  }

  /** oidc-provider client metadata, or undefined for an unknown client. */
  async find(clientId: string): Promise<ClientMetadata | undefined> {
    const builtIn = this.builtIn.get(clientId);
    if (builtIn) return { ...builtIn };
    // client_id is a UUID column: anything else is unknown, without a query that would fail.
    if (!UUID.test(clientId)) return undefined;
    const key = clientId.toLowerCase();
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit.value;
    const until = new Date(Date.now() + this.ttlMs);
    const [row] = await this.sql<ClientRow[]>`
      select ${this.sql(oauthClientSettingsColumns)}, client_secret_sealed
      from altalune_oauth_clients where client_id = ${key}`;
    const metadata = row ? this.toMetadata(row) : undefined;
    this.cache.set(key, metadata, until);
    return metadata;
  }

  private toMetadata(row: ClientRow): ClientMetadata | undefined {
    const scopes = new Set(row.allowed_scopes);
    // Refresh tokens: clients allowed offline_access, and the first-party dashboard always.
    const refresh = row.is_default || scopes.has("offline_access");
    const grantTypes = ["authorization_code", ...(refresh ? ["refresh_token"] : []), ...(row.confidential ? ["client_credentials"] : [])];
    let secret: string | undefined;
    if (row.confidential) {
      if (row.client_secret_sealed === null) return undefined;
      try {
        secret = openSecret(this.encryptionKey, row.client_secret_sealed, oauthClientSecretContext(row.client_id));
      } catch (e) {
        // A secret sealed under another ENCRYPTION_KEY: the client cannot authenticate; say why once.
        this.logger.error({ clientId: row.client_id, err: e }, "oauth client secret cannot be opened; check ENCRYPTION_KEY");
        return undefined;
      }
    }
    return {
      client_id: row.client_id,
      client_name: row.name,
      ...(secret !== undefined ? { client_secret: secret } : {}),
      redirect_uris: row.redirect_uris,
      post_logout_redirect_uris: row.post_logout_redirect_uris,
      grant_types: grantTypes,
      response_types: ["code"],
      token_endpoint_auth_method: row.confidential ? "client_secret_basic" : "none",
      scope: [...scopes].join(" "),
      [FIRST_PARTY]: row.is_default,
      [PKCE_REQUIRED]: !row.confidential || row.pkce_required,
    };
  }
}
