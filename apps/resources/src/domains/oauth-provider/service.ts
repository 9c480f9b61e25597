import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { newPublicId, openSecret, sealSecret, SealedSecretError, type OutboundPolicy } from "@altalune/core";
import type {
  CreateOAuthProviderRequest,
  DeleteOAuthProviderRequest,
  GetOAuthProviderRequest,
  OAuthProviderService as OAuthProviderServiceDesc,
  QueryOAuthProvidersRequest,
  RevealClientSecretRequest,
  UpdateOAuthProviderRequest,
} from "@altalune/proto";
import { callInfoKey, describePrincipal, principalOf } from "@altalune/rpc";
import { oauthProviderSecretContext, type EndpointField } from "@altalune/oauth-tables";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { encryptionKeyMissing, secretSealFailed, secretUnreadable } from "./errors.js";
import { oauthProviderToProto, providerTypeFromProto } from "./mapper.js";
import { callbackUrl, type OAuthProviderChanges } from "./model.js";
import type { OAuthProviderRepo } from "./repo.js";
import { checkProviderState, checkRedirectUrl, displayNameFor, requiredText, slugFor, urlOverride } from "./rules.js";
import { parseScopes, requestedScopes } from "./scopes.js";

/** The part of the logger the service uses (tests pass a recorder or a pino on a stream). */
export interface OAuthProviderServiceLogger {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

export class OAuthProviderService implements ServiceImpl<typeof OAuthProviderServiceDesc> {
  /**
   * `encryptionKey` may be undefined (no ENCRYPTION_KEY in a development or test setup): listing,
   * reading, deleting and updates that keep the secret work; sealing or revealing a secret is
   * refused (60814). `authIssuer` is the auth server's issuer, the base of the callback URLs.
   * `outbound` (OutboundPolicy.fromConfig(config)) decides which provider URLs are accepted.
   */
  constructor(
    private readonly providers: OAuthProviderRepo,
    private readonly encryptionKey: Buffer | undefined,
    private readonly authIssuer: string,
    private readonly logger: OAuthProviderServiceLogger,
    private readonly outbound: OutboundPolicy,
  ) {}

  async queryOAuthProviders(req: QueryOAuthProvidersRequest) {
    const result = await this.providers.query(listQueryFromProto(req.query));
    return { data: result.rows.map((p) => oauthProviderToProto(p, this.authIssuer)), meta: queryMetaToProto(result) };
  }

  async createOAuthProvider(req: CreateOAuthProviderRequest) {
    const providerType = providerTypeFromProto(req.providerType);
    const slug = slugFor(providerType, req.slug);
    checkRedirectUrl(req.redirectUrl, callbackUrl(this.authIssuer, slug));
    const state = {
      providerType,
      scopes: requestedScopes(providerType, req.scopes),
      issuerUrl: urlOverride("issuerUrl", req.issuerUrl, this.outbound),
      authorizationEndpoint: urlOverride("authorizationEndpoint", req.authorizationEndpoint, this.outbound),
      tokenEndpoint: urlOverride("tokenEndpoint", req.tokenEndpoint, this.outbound),
      userinfoEndpoint: urlOverride("userinfoEndpoint", req.userinfoEndpoint, this.outbound),
    };
    checkProviderState(state);
    const clientId = requiredText("client_id", req.clientId);
    const secret = requiredText("client_secret", req.clientSecret);
    const publicId = newPublicId();
    const created = await this.providers.create({
      ...state,
      publicId,
      slug,
      displayName: displayNameFor(providerType, slug, req.displayName),
      clientId,
      enabled: req.enabled,
      secretSealed: this.seal(publicId, secret),
    });
    return { provider: this.toProto(created), message: "OAuth provider created successfully" };
  }

  async getOAuthProvider(req: GetOAuthProviderRequest) {
    return { provider: this.toProto(await this.providers.getByPublicId(req.id)) };
  }

  async updateOAuthProvider(req: UpdateOAuthProviderRequest) {
    // Type-independent rules first, before touching the database. client_id, scopes and enabled
    // are the original's fields and always set (proto3 JSON omits `enabled: false`, so "absent"
    // cannot mean "unchanged" for them); the fields it did not have change only when present.
    // A malformed scope string is refused here; the type's base scopes are added on the locked row.
    parseScopes(req.scopes);
    const changes: OAuthProviderChanges = { clientId: requiredText("client_id", req.clientId), enabled: req.enabled };
    if (req.displayName !== undefined) changes.displayName = requiredText("display_name", req.displayName);
    const overrides: Array<[EndpointField, string | undefined]> = [
      ["issuerUrl", req.issuerUrl],
      ["authorizationEndpoint", req.authorizationEndpoint],
      ["tokenEndpoint", req.tokenEndpoint],
      ["userinfoEndpoint", req.userinfoEndpoint],
    ];
    for (const [key, value] of overrides) if (value !== undefined) changes[key] = urlOverride(key, value, this.outbound);
    // An empty (or blank) secret keeps the stored one, as in the original.
    const secret = req.clientSecret.trim();
    if (secret !== "") changes.secretSealed = this.seal(req.id, secret);

    const updated = await this.providers.update(req.id, (current) => {
      // The type and the slug are the stored ones: the base scopes and the callback follow them.
      checkRedirectUrl(req.redirectUrl, callbackUrl(this.authIssuer, current.slug));
      checkProviderState({
        providerType: current.providerType,
        issuerUrl: changes.issuerUrl === undefined ? current.issuerUrl : changes.issuerUrl,
        authorizationEndpoint: changes.authorizationEndpoint === undefined ? current.authorizationEndpoint : changes.authorizationEndpoint,
        tokenEndpoint: changes.tokenEndpoint === undefined ? current.tokenEndpoint : changes.tokenEndpoint,
        userinfoEndpoint: changes.userinfoEndpoint === undefined ? current.userinfoEndpoint : changes.userinfoEndpoint,
      });
      return { ...changes, scopes: requestedScopes(current.providerType, req.scopes) };
    });
    return { provider: this.toProto(updated), message: "OAuth provider updated successfully" };
  }

  async deleteOAuthProvider(req: DeleteOAuthProviderRequest, ctx: HandlerContext) {
    const deleted = await this.providers.delete(req.id);
    this.logger.info(
      { audit: "oauth_provider.deleted", providerId: req.id, providerType: deleted.providerType, slug: deleted.slug, ...this.callerOf(ctx) },
      "OAuth provider deleted",
    );
    return { message: "OAuth provider deleted successfully" };
  }

  async revealClientSecret(req: RevealClientSecretRequest, ctx: HandlerContext) {
    const row = await this.providers.secretOf(req.id);
    let secret: string;
    try {
      secret = openSecret(this.key(), row.secretSealed, oauthProviderSecretContext(req.id));
    } catch (e) {
      if (!(e instanceof SealedSecretError)) throw e;
      this.logger.error({ providerId: req.id, slug: row.slug, reason: e.message }, "OAuth provider client secret cannot be opened");
      throw secretUnreadable(req.id);
    }
    this.logger.info(
      { audit: "oauth_provider.secret_revealed", providerId: req.id, providerType: row.providerType, slug: row.slug, ...this.callerOf(ctx) },
      "OAuth provider client secret revealed",
    );
    return { clientSecret: secret, message: "Client secret revealed. This action has been logged for audit purposes." };
  }

  private key(): Buffer {
    if (this.encryptionKey === undefined) throw encryptionKeyMissing();
    return this.encryptionKey;
  }

  private seal(publicId: string, secret: string): string {
    const key = this.key();
    try {
      return sealSecret(key, secret, oauthProviderSecretContext(publicId));
    } catch (e) {
      if (!(e instanceof SealedSecretError)) throw e;
      this.logger.error({ providerId: publicId, reason: e.message }, "OAuth provider client secret cannot be sealed");
      throw secretSealFailed(publicId);
    }
  }

  private toProto(p: Parameters<typeof oauthProviderToProto>[0]) {
    return oauthProviderToProto(p, this.authIssuer);
  }

  /** Who made the call, for audit lines: "anonymous" until the auth step sets a principal. */
  private callerOf(ctx: HandlerContext): { caller: string; requestId: string | undefined } {
    return { caller: describePrincipal(principalOf(ctx)), requestId: ctx.values.get(callInfoKey)?.requestId };
  }
}
