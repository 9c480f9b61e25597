import type { Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import Provider, { errors, type Configuration, type KoaContextWithOIDC, type UnknownObject } from "oidc-provider";
import { API_SCOPES } from "@altalune/resources";
import { isDatabaseUnavailable, oidcCallback, RETRY_AFTER_SECONDS, UNAVAILABLE_DESCRIPTIONS } from "../availability/unavailable.js";
import {
  accessTokenClaims,
  findUserByPublicId,
  findUserWithAuthorization,
  loadAuthorization,
  parseUserWithAuthorization,
  standardClaims,
  userWithAuthorizationJson,
  withinScopes,
  type AccountRecord,
  type Authorization,
} from "./accounts.js";
import { FIRST_PARTY, PKCE_REQUIRED, type ClientStore } from "./client-store.js";
import { cookieKeys, storedIdKey } from "./derived-secrets.js";
import { clientTokenClaims, loadClientGrants } from "./machine-clients.js";
import { accountReadWithToken, createAdapterFactory } from "./pg-adapter.js";
import type { KeySet } from "./signing-keys.js";
import { StoredIdSealer } from "./stored-ids.js";

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

// Extra client metadata keeps its snake_case name on oidc-provider's Client instances.
export const isFirstParty = (client: unknown): boolean => (client as Record<string, unknown> | undefined)?.[FIRST_PARTY] === true;

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

const scopeSet = (scope: string | undefined): Set<string> => new Set((scope ?? "").split(" ").filter(Boolean));

/** What findAccount read: the user, and their authorization when a token was about to be issued. */
interface AccountRead {
  user: AccountRecord;
  authz?: Authorization;
}

/**
 * What was read for each account findAccount returned. A token request reads the account
 * (oidc-provider's findAccount, given the code or refresh token being redeemed) and then issues
 * the access token (extraTokenClaims) moments later in the same request: findAccount reads the
 * user's authorization along with the user, in the same statement, and extraTokenClaims uses
 * both instead of asking again.
 */
const accountReads = new WeakMap<object, AccountRead>();

/** What this request's findAccount read for `accountId`, if it did. */
function accountReadInRequest(ctx: KoaContextWithOIDC | undefined, accountId: string): AccountRead | undefined {
  const account: unknown = ctx?.oidc?.account;
  if (typeof account !== "object" || account === null) return undefined;
  const read = accountReads.get(account);
  return read?.user.publicId === accountId ? read : undefined;
}

/** Redeeming these issues an access token right after findAccount. */
const REDEEMED_FOR_ACCESS_TOKEN: ReadonlySet<string> = new Set(["AuthorizationCode", "RefreshToken"]);

export function createProvider({ sql, config, logger, clients, keys, pages }: ProviderDeps): Provider {
  const { auth } = config;
  const encryptionKey = config.encryptionKey;
  if (encryptionKey === undefined) throw new Error("ENCRYPTION_KEY is required by the auth server");
  const introspectors = new Set(auth.introspectionClientIds);
  const cookie = { httpOnly: true, sameSite: "lax" as const, secure: config.production, signed: true };

  const extraTokenClaims: NonNullable<Configuration["extraTokenClaims"]> = async (ctx, token) => {
    if (token.kind === "ClientCredentials") {
      // Read at issuance: a client deleted or narrowed since the provider cached it gets nothing more.
      const grants = token.clientId === undefined ? undefined : await loadClientGrants(sql, token.clientId);
      // As the provider answers for an unknown client (its client cache may still hold this one).
      if (!grants) throw new errors.InvalidClientAuth("the client no longer exists");
      return clientTokenClaims(grants, scopeSet(token.scope)) as UnknownObject;
    }
    if (token.kind !== "AccessToken" || !("accountId" in token) || typeof token.accountId !== "string") return undefined;
    const read = accountReadInRequest(ctx, token.accountId);
    const user = read?.user ?? (await findUserByPublicId(sql, token.accountId));
    if (!user || !user.isActive) throw new errors.InvalidGrant("the user is not active");
    const authz = read?.authz ?? (await loadAuthorization(sql, user.publicId));
    const scopes = scopeSet(token.scope);
    // First-party clients carry the user's permissions; any other client the consented API
    // scopes the user holds now. Evaluated at every issuance, refreshes included: the token's
    // scope never outgrows the grant, and a lost permission is gone from the next token.
    // Without a known client (never expected here) the narrower rule applies.
    const client = ctx?.oidc?.client ?? (token.clientId === undefined ? undefined : await ctx?.oidc?.provider.Client.find(token.clientId));
    const claims = isFirstParty(client) ? authz : withinScopes(authz, scopes);
    return accessTokenClaims(user, claims, scopes) as UnknownObject;
  };
  const loadExistingGrant: NonNullable<Configuration["loadExistingGrant"]> = async (ctx) => {
    const { oidc } = ctx;
    const client = oidc.client;
    const session = oidc.session;
    if (!client || !session) return undefined;
    const grantId = oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
    if (grantId) return oidc.provider.Grant.find(grantId);
    // Consent is remembered per user and client across sessions: a new login copies what the
    // latest grant of this user to this client already covers.
    if (!session.accountId) return undefined;
    const [row] = await sql<{ payload: { openid?: { scope?: string }; resources?: Record<string, string> } }[]>`
      select payload from altalune_oidc_models
      where model = 'Grant' and account_id = ${session.accountId} and client_id = ${client.clientId}
        and (expires_at is null or expires_at > CURRENT_TIMESTAMP)
      order by created_at desc limit 1`;
    if (!row) return undefined;
    const grant = new oidc.provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    if (row.payload.openid?.scope) grant.addOIDCScope(row.payload.openid.scope);
    for (const [resource, scope] of Object.entries(row.payload.resources ?? {})) grant.addResourceScope(resource, scope);
    await grant.save();
    return grant;
  };

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
    // The callbacks that read the database pass its unavailability on as `temporarily_unavailable`
    // (oidcCallback), as the adapter does; see availability/unavailable.ts.
    async findAccount(_ctx, sub, token) {
      const read = await oidcCallback(async (): Promise<AccountRead | undefined> => {
        if (token !== undefined && REDEEMED_FOR_ACCESS_TOKEN.has(token.kind)) {
          // Read with the token itself, earlier in this request (pg-adapter.ts, TokenAccountRead).
          const withToken = accountReadWithToken(sub);
          return withToken === undefined ? findUserWithAuthorization(sql, sub) : parseUserWithAuthorization(withToken);
        }
        const user = await findUserByPublicId(sql, sub);
        return user && { user };
      });
      const user = read?.user;
      // Inactive or deleted: no ID token, no userinfo, and a refresh fails with invalid_grant.
      if (!user || !user.isActive) return undefined;
      const account = {
        accountId: user.publicId,
        claims: (_use: string, scope: string) => standardClaims(user, scopeSet(scope)) as { sub: string },
      };
      accountReads.set(account, read);
      return account;
    },
    extraTokenClaims: (ctx, token) => oidcCallback(async () => extraTokenClaims(ctx, token)),
    async issueRefreshToken(_ctx, client, code) {
      if (!client.grantTypeAllowed("refresh_token")) return false;
      return code.scopes.has("offline_access") || isFirstParty(client);
    },
    rotateRefreshToken: true,
    loadExistingGrant: (ctx) => oidcCallback(async () => loadExistingGrant(ctx)),
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
