import { randomUUID } from "node:crypto";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { openSecret, randomSecret, sealSecret, SealedSecretError } from "@altalune/core";
import type {
  CreateOAuthClientRequest,
  DeleteOAuthClientRequest,
  GetOAuthClientRequest,
  OAuthClientService as OAuthClientServiceDesc,
  QueryOAuthClientsRequest,
  RevealOAuthClientSecretRequest,
  UpdateOAuthClientRequest,
} from "@altalune/proto";
import { callInfoKey, describePrincipal, principalOf } from "@altalune/rpc";
import { requireTrimmedName } from "../../shared/names.js";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import {
  encryptionKeyMissing,
  invalidRedirectUri,
  nothingToUpdate,
  publicClientHasNoSecret,
  secretUnreadable,
} from "./errors.js";
import { oauthClientToProto } from "./mapper.js";
import { canonicalScopes, DEFAULT_SCOPES, redirectUriProblem, sameList, secretContext, type OAuthClientChanges } from "./model.js";
import type { OAuthClientRepo } from "./repo.js";

/** Bytes of entropy of a generated client secret (43 base64url characters). */
export const CLIENT_SECRET_BYTES = 32;

/** The part of the logger the service uses (tests pass a recorder or a pino on a stream). */
export interface OAuthClientServiceLogger {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** Each URI must pass the redirect policy; the first offender is reported by its field path. */
export function checkRedirectUris(field: string, uris: readonly string[]): string[] {
  uris.forEach((uri, i) => {
    const rule = redirectUriProblem(uri);
    if (rule !== undefined) throw invalidRedirectUri(`${field}[${i}]`, uri, rule);
  });
  return [...uris];
}

export class OAuthClientService implements ServiceImpl<typeof OAuthClientServiceDesc> {
  /**
   * `encryptionKey` may be undefined (no ENCRYPTION_KEY in a development or test setup): the rest
   * of the API keeps working, and only sealing or revealing a secret is refused (60904).
   */
  constructor(
    private readonly clients: OAuthClientRepo,
    private readonly encryptionKey: Buffer | undefined,
    private readonly logger: OAuthClientServiceLogger,
  ) {}

  private key(): Buffer {
    if (this.encryptionKey === undefined) throw encryptionKeyMissing();
    return this.encryptionKey;
  }

  async queryOAuthClients(req: QueryOAuthClientsRequest) {
    const result = await this.clients.query(listQueryFromProto(req.query));
    return {
      clients: result.rows.map(oauthClientToProto),
      meta: queryMetaToProto(result),
      message: result.rowCount === 0 ? "No OAuth clients found" : `Found ${result.rowCount} OAuth clients`,
    };
  }

  async createOAuthClient(req: CreateOAuthClientRequest) {
    const name = requireTrimmedName("name", req.name);
    const redirectUris = checkRedirectUris("redirect_uris", req.redirectUris);
    const postLogoutRedirectUris = checkRedirectUris("post_logout_redirect_uris", req.postLogoutRedirectUris);
    const allowedScopes = req.allowedScopes.length > 0 ? canonicalScopes(req.allowedScopes) : [...DEFAULT_SCOPES];
    const clientId = randomUUID();
    const secret = req.confidential ? randomSecret(CLIENT_SECRET_BYTES) : "";
    const created = await this.clients.create({
      name,
      clientId,
      redirectUris,
      postLogoutRedirectUris,
      allowedScopes,
      // A public client cannot keep a secret, so PKCE is what binds the code to it.
      pkceRequired: req.confidential ? req.pkceRequired : true,
      confidential: req.confidential,
      secretSealed: req.confidential ? sealSecret(this.key(), secret, secretContext(clientId)) : null,
    });
    return { client: oauthClientToProto(created), clientSecret: secret, message: "OAuth client created successfully" };
  }

  async getOAuthClient(req: GetOAuthClientRequest) {
    const client = await this.clients.getByPublicId(req.id);
    return { client: oauthClientToProto(client), message: "OAuth client retrieved successfully" };
  }

  async updateOAuthClient(req: UpdateOAuthClientRequest, ctx: HandlerContext) {
    const changes: OAuthClientChanges = {};
    if (req.name !== undefined) changes.name = requireTrimmedName("name", req.name);
    if (req.redirectUris.length > 0) changes.redirectUris = checkRedirectUris("redirect_uris", req.redirectUris);
    if (req.postLogoutRedirectUris !== undefined) {
      changes.postLogoutRedirectUris = checkRedirectUris("post_logout_redirect_uris.values", req.postLogoutRedirectUris.values);
    }
    if (req.allowedScopes.length > 0) changes.allowedScopes = canonicalScopes(req.allowedScopes);
    if (req.pkceRequired !== undefined) changes.pkceRequired = req.pkceRequired;
    if (Object.keys(changes).length === 0) throw nothingToUpdate();
    const { client, previous } = await this.clients.update(req.id, changes);
    // Where a client's codes go is what matters most about it: every change is audited.
    if (!sameList(previous.redirectUris, client.redirectUris)) {
      this.logger.info(
        {
          audit: "oauth_client.redirect_uris_changed",
          clientId: client.clientId,
          ...this.callerOf(ctx),
          before: previous.redirectUris,
          after: client.redirectUris,
        },
        "OAuth client redirect URIs changed",
      );
    }
    return { client: oauthClientToProto(client), message: "OAuth client updated successfully" };
  }

  async deleteOAuthClient(req: DeleteOAuthClientRequest, ctx: HandlerContext) {
    const deleted = await this.clients.delete(req.id);
    this.logger.info(
      { audit: "oauth_client.deleted", clientId: deleted.clientId, revokedRows: deleted.revokedRows, ...this.callerOf(ctx) },
      "OAuth client deleted; its grants and tokens are revoked",
    );
    return { message: "OAuth client deleted successfully" };
  }

  async revealOAuthClientSecret(req: RevealOAuthClientSecretRequest, ctx: HandlerContext) {
    const row = await this.clients.secretOf(req.id);
    if (!row.confidential || row.secretSealed === null) throw publicClientHasNoSecret();
    let secret: string;
    try {
      secret = openSecret(this.key(), row.secretSealed, secretContext(row.clientId));
    } catch (e) {
      if (!(e instanceof SealedSecretError)) throw e;
      this.logger.error({ clientId: row.clientId, reason: e.message }, "OAuth client secret cannot be opened");
      throw secretUnreadable(req.id);
    }
    this.logger.info(
      { audit: "oauth_client.secret_revealed", clientId: row.clientId, ...this.callerOf(ctx) },
      "OAuth client secret revealed",
    );
    return {
      clientSecret: secret,
      message: "Client secret revealed. This action has been logged for audit purposes.",
    };
  }

  /** Who made the call, for audit lines: "anonymous" until the auth step sets a principal. */
  private callerOf(ctx: HandlerContext): { caller: string; requestId: string | undefined } {
    return { caller: describePrincipal(principalOf(ctx)), requestId: ctx.values.get(callInfoKey)?.requestId };
  }
}
