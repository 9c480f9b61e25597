import type { Sql } from "@altalune/db";
import { errors, type Configuration, type KoaContextWithOIDC, type UnknownObject } from "oidc-provider";
import { oidcCallback } from "../availability/unavailable.js";
import {
  accessTokenClaims,
  findUserByPublicId,
  findUserWithAuthorization,
  loadAuthorization,
  parseUserWithAuthorization,
  standardClaims,
  withinScopes,
  type AccountRecord,
  type Authorization,
} from "./accounts.js";
import { isFirstParty } from "./first-party.js";
import { clientTokenClaims, loadClientGrants } from "./machine-clients.js";
import { latestGrant } from "./oidc-models-store.js";
import { accountReadWithToken } from "./pg-adapter.js";

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

/**
 * The provider's callbacks that read the database: who the account is, what its tokens carry and
 * which consent it already gave. They pass the database's unavailability on as
 * `temporarily_unavailable` (oidcCallback), as the adapter does; see availability/unavailable.ts.
 */
export function accountCallbacks(sql: Sql): Required<Pick<Configuration, "findAccount" | "extraTokenClaims" | "loadExistingGrant">> {
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
    const latest = await latestGrant(sql, session.accountId, client.clientId);
    if (!latest) return undefined;
    const grant = new oidc.provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    if (latest.openid?.scope) grant.addOIDCScope(latest.openid.scope);
    for (const [resource, scope] of Object.entries(latest.resources ?? {})) grant.addResourceScope(resource, scope);
    await grant.save();
    return grant;
  };

  return {
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
    loadExistingGrant: (ctx) => oidcCallback(async () => loadExistingGrant(ctx)),
  };
}
