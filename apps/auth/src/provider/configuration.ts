import type { Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from "oidc-provider";
import { API_SCOPES } from "@altalune/rpc";
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_DESCRIPTIONS } from "../availability/unavailable.js";
import { accountCallbacks } from "./account-callbacks.js";
import { userWithAuthorizationJson } from "./accounts.js";
import { FIRST_PARTY, PKCE_REQUIRED, type ClientStore } from "./client-store.js";
import { cookieKeys, storedIdKey } from "./derived-secrets.js";
import { isFirstParty } from "./first-party.js";
import { createAdapterFactory } from "./pg-adapter.js";
import type { KeySet } from "./signing-keys.js";
import { StoredIdSealer } from "./stored-ids.js";

// The interaction routes take it from here, with the provider's other settings.
export { isFirstParty } from "./first-party.js";

/** OIDC scopes the server knows; a client may request those its allowed_scopes list. */
export const SCOPES = ["openid", "profile", "email", "offline_access"] as const;
/**
 * Every scope: the OIDC ones and the Resources API's (its system permissions, from the proto
 * rules). Listed in discovery; asking for one of them that the client's allowed_scopes lacks is
 * `invalid_scope` (oidc-provider checks every scope of this list against the client's).
 */
export const ALL_SCOPES: readonly string[] = [...SCOPES, ...API_SCOPES];
/** ID token lifetime; a retired signing key stays published at least this long. */
export const ID_TOKEN_TTL_SECONDS = 3_600;
const INTERACTION_TTL_SECONDS = 3_600;
const AUTHORIZATION_CODE_TTL_SECONDS = 60;

/** Endpoint paths, as the original server's so its clients keep working. */
export const ROUTES = {
  authorization: "/oauth/authorize",
  token: "/oauth/token",
  userinfo: "/oauth/userinfo",
  revocation: "/oauth/revoke",
  introspection: "/oauth/introspect",
  end_session: "/oauth/end_session",
  pushed_authorization_request: "/oauth/par",
  jwks: "/.well-known/jwks.json",
} as const;

/** How long tokens signed by a key can live: it stays published at least that long after rotation. */
export function keyRetentionSeconds(config: Config): number {
  return Math.max(config.auth.accessTokenTtlSeconds, ID_TOKEN_TTL_SECONDS) + 60;
}

/** Page renderers the provider calls for its own pages (errors, logout). */
export interface ProviderPages {
  error(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string | undefined }): void;
  logout(ctx: KoaContextWithOIDC, form: string): void;
  loggedOut(ctx: KoaContextWithOIDC): void;
}

export interface ProviderDeps {
  sql: Sql;
  config: Config;
  logger: Logger;
  clients: ClientStore;
  keys: KeySet;
  pages: ProviderPages;
}

export function createProvider({ sql, config, logger, clients, keys, pages }: ProviderDeps): Provider {
  const { auth } = config;
  const encryptionKey = config.encryptionKey;
  if (encryptionKey === undefined) throw new Error("ENCRYPTION_KEY is required by the auth server");
  const introspectors = new Set(auth.introspectionClientIds);
  const cookie = { httpOnly: true, sameSite: "lax" as const, secure: config.production, signed: true };

  const configuration: Configuration = {
    adapter: createAdapterFactory(sql, clients, new StoredIdSealer(storedIdKey(encryptionKey)), userWithAuthorizationJson),
    clients: [],
    jwks: { keys: keys.published.map((k) => k.privateJwk) as never },
    cookies: { keys: cookieKeys(encryptionKey), long: cookie, short: cookie },
    routes: ROUTES,
    scopes: [...ALL_SCOPES],
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "given_name", "family_name", "picture"],
    },
    responseTypes: ["code"],
    clientDefaults: {
      grant_types: ["authorization_code"],
      response_types: ["code"],
      id_token_signed_response_alg: "RS256",
      token_endpoint_auth_method: "client_secret_basic",
    },
    extraClientMetadata: { properties: [FIRST_PARTY, PKCE_REQUIRED] },
    // S256 is the only method oidc-provider 9 implements; `plain` is refused.
    pkce: { required: (_ctx, client) => (client as unknown as Record<string, unknown>)[PKCE_REQUIRED] !== false },
    // findAccount, extraTokenClaims and loadExistingGrant: they read the database.
    ...accountCallbacks(sql),
    async issueRefreshToken(_ctx, client, code) {
      if (!client.grantTypeAllowed("refresh_token")) return false;
      return code.scopes.has("offline_access") || isFirstParty(client);
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: auth.accessTokenTtlSeconds,
      ClientCredentials: auth.accessTokenTtlSeconds,
      AuthorizationCode: AUTHORIZATION_CODE_TTL_SECONDS,
      IdToken: ID_TOKEN_TTL_SECONDS,
      Interaction: INTERACTION_TTL_SECONDS,
      Session: auth.refreshTokenTtlSeconds,
      Grant: auth.refreshTokenTtlSeconds,
      // REFRESH_TOKEN_TTL bounds a login: rotation hands the new token the old one's remaining time.
      RefreshToken: (ctx) => ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? auth.refreshTokenTtlSeconds,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    clientBasedCORS(_ctx, origin, client) {
      if (config.allowedOrigins.includes(origin)) return true;
      return (client.redirectUris ?? []).some((u) => URL.canParse(u) && new URL(u).origin === origin);
    },
    async renderError(ctx, out) {
      pages.error(ctx as KoaContextWithOIDC, out);
    },
    features: {
      devInteractions: { enabled: false },
      // The Resources API does not check DPoP proofs, so bound tokens would add nothing there.
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      deviceFlow: { enabled: false },
      registration: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // oidc-provider's default answers any confidential client about every client's tokens
        // (subject, scopes, session). A client learns about its own tokens only, unless the
        // operator listed it in INTROSPECTION_CLIENT_IDS (never settable through the API). Any
        // other token reads as `{"active": false}`, as an unknown one does. A listed public client
        // does not count: anyone can call as it.
        allowedPolicy: (_ctx, client, token) =>
          token.clientId === client.clientId || (introspectors.has(client.clientId) && client.clientAuthMethod !== "none"),
      },
      revocation: {
        enabled: true,
        // oidc-provider's default, stated here so it is a decision (and it stops warning): a
        // client revokes its own tokens only; a confidential caller is told it may not.
        allowedPolicy: (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === "none") return false;
          throw new errors.InvalidRequest("client is not authorized to revoke the presented token");
        },
      },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => pages.logout(ctx, form),
        postLogoutSuccessSource: async (ctx) => pages.loggedOut(ctx),
      },
      resourceIndicators: {
        enabled: true,
        // Every access token is a JWT for the Resources API unless a client asks otherwise.
        defaultResource: () => auth.apiAudience,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== auth.apiAudience) throw new errors.InvalidTarget();
          return {
            scope: ALL_SCOPES.join(" "),
            audience: auth.apiAudience,
            accessTokenTTL: auth.accessTokenTtlSeconds,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
  };

  const provider = new Provider(auth.issuer, configuration);
  // Behind trusted proxies the public scheme and host come from X-Forwarded-*, and the client
  // address only from the entries those proxies appended (as for the server around it).
  provider.proxy = config.trustedProxyHops > 0;
  provider.maxIpsCount = config.trustedProxyHops;
  // oidc-provider's own 503s (temporarily_unavailable) carry Retry-After like the server's others.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status === 503) ctx.set("retry-after", String(RETRY_AFTER_SECONDS));
  });
  provider.on("server_error", (ctx, err) => {
    if (!isDatabaseUnavailable(err)) return logger.error({ err }, "oidc-provider server error");
    // The net for a database failure that reached oidc-provider through a path not wrapped in
    // oidcCallback: the error handler has just rendered server_error (500) and emits this before
    // the response is sent, so the answer is still ours to change.
    logger.warn({ path: ctx.path }, "database unavailable; answered 503");
    const out = { error: "temporarily_unavailable", error_description: UNAVAILABLE_DESCRIPTIONS.database };
    ctx.status = 503;
    if (ctx.response.is("html")) pages.error(ctx, out);
    else ctx.body = out;
  });
  provider.on("grant.revoked", (_ctx, grantId) => logger.info({ grant: grantId.slice(0, 6) }, "grant revoked"));
  return provider;
}
