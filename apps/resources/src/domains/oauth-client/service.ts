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
import { oauthClientSecretContext, type OAuthClient } from "@altalune/oauth-tables";
import { callInfoKey, describePrincipal, principalOf } from "@altalune/rpc";
import { requireTrimmedName } from "../../shared/names.js";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { grantorOf, refuseGrantingKeys } from "../iam/index.js";
import {
  encryptionKeyMissing,
  invalidRedirectUri,
  nothingToUpdate,
  privilegedSecretRefused,
  projectsEscalation,
  projectsNeedConfidentialClient,
  defaultClientSecretNotRevealed,
  publicClientHasNoSecret,
  secretUnreadable,
  unknownScope,
} from "./errors.js";
import { oauthClientToProto } from "./mapper.js";
import {
  apiScopesOf,
  canonicalScopes,
  DEFAULT_SCOPES,
  redirectUriProblem,
  sameList,
  unknownScopeIndex,
  type OAuthClientChanges,
} from "./model.js";
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

/** Known scopes only (OIDC or API scopes; never root), in canonical order. */
function checkScopes(scopes: readonly string[]): string[] {
  const bad = unknownScopeIndex(scopes);
  if (bad >= 0) throw unknownScope(bad, scopes[bad] as string);
  return canonicalScopes(scopes);
}

/** The projects the caller acts in: a user's memberships, a machine client's projects, an API key's one. */
function callerProjects(ctx: HandlerContext): ReadonlySet<string> {
  const p = principalOf(ctx);
  if (p === undefined) return new Set();
  if (p.kind === "user") return new Set(p.memberships.keys());
  if (p.kind === "client") return p.projects;
  return new Set([p.projectPublicId]);
}

/**
 * The escalation rule for what a client's tokens will carry: API scopes the caller's token holds,
 * projects the caller is a member of (root passes both). Only what this change adds is checked,
 * so an administrator can still edit, or narrow, a client that holds more than they do.
 */
function refuseGranting(ctx: HandlerContext, scopes: readonly string[], projects: readonly string[]): void {
  const grantor = grantorOf(ctx);
  refuseGrantingKeys(grantor, scopes);
  if (grantor.root) return;
  const mine = callerProjects(ctx);
  const missing = projects.filter((id) => !mine.has(id)).sort();
  if (missing.length > 0) throw projectsEscalation(missing);
}

const added = (next: readonly string[], before: readonly string[]): string[] => next.filter((v) => !before.includes(v));

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

  async createOAuthClient(req: CreateOAuthClientRequest, ctx: HandlerContext) {
    const name = requireTrimmedName("name", req.name);
    const redirectUris = checkRedirectUris("redirect_uris", req.redirectUris);
    const postLogoutRedirectUris = checkRedirectUris("post_logout_redirect_uris", req.postLogoutRedirectUris);
    const allowedScopes = req.allowedScopes.length > 0 ? checkScopes(req.allowedScopes) : [...DEFAULT_SCOPES];
    if (req.projectIds.length > 0 && !req.confidential) throw projectsNeedConfidentialClient();
    refuseGranting(ctx, apiScopesOf(allowedScopes), req.projectIds);
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
      secretSealed: req.confidential ? sealSecret(this.key(), secret, oauthClientSecretContext(clientId)) : null,
      projectIds: [...req.projectIds],
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
    if (req.allowedScopes.length > 0) changes.allowedScopes = checkScopes(req.allowedScopes);
    if (req.pkceRequired !== undefined) changes.pkceRequired = req.pkceRequired;
    if (req.projectIds !== undefined) changes.projectIds = [...req.projectIds.values];
    if (Object.keys(changes).length === 0) throw nothingToUpdate();
    // Checked against the row locked for the update, so "added" means added to what is written over.
    const check = (current: OAuthClient) => {
      if (changes.projectIds !== undefined && changes.projectIds.length > 0 && !current.confidential) throw projectsNeedConfidentialClient();
      const repointed = changes.redirectUris !== undefined && !sameList(changes.redirectUris, current.redirectUris);
      if (repointed) {
        // Re-pointing hands the new destination every token the client's users will get: the
        // caller must hold everything the client carries, as if granting it anew.
        refuseGranting(ctx, apiScopesOf(changes.allowedScopes ?? current.allowedScopes), changes.projectIds ?? current.projectIds);
        return;
      }
      refuseGranting(
        ctx,
        added(apiScopesOf(changes.allowedScopes ?? []), current.allowedScopes),
        added(changes.projectIds ?? [], current.projectIds),
      );
    };
    const { client, previous, revokedRows } = await this.clients.update(req.id, changes, check);
    // Where a client's codes go is what matters most about it: every change is audited.
    if (!sameList(previous.redirectUris, client.redirectUris)) {
      this.logger.info(
        {
          audit: "oauth_client.redirect_uris_changed",
          clientId: client.clientId,
          ...this.callerOf(ctx),
          before: previous.redirectUris,
          after: client.redirectUris,
          revokedRows,
        },
        "OAuth client redirect URIs changed; its consents, codes and tokens are revoked",
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
    // The dashboard client's secret is the operator's (DASHBOARD_CLIENT_SECRET): with it anyone
    // could introspect or revoke every dashboard token, and it is never needed through the API.
    if (row.isDefault) throw defaultClientSecretNotRevealed(req.id);
    this.refusePrivilegedSecret(ctx, req.id, apiScopesOf(row.allowedScopes), row.projectIds);
    let secret: string;
    try {
      secret = openSecret(this.key(), row.secretSealed, oauthClientSecretContext(row.clientId));
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

  /**
   * A secret that carries API scopes or projects is a credential with those rights: whoever reads
   * it can act as the client. So revealing it needs client:write (the right to give those rights)
   * and holding every one of them, exactly as granting them would (root passes).
   */
  private refusePrivilegedSecret(ctx: HandlerContext, publicId: string, scopes: readonly string[], projects: readonly string[]): void {
    if (scopes.length === 0 && projects.length === 0) return;
    const grantor = grantorOf(ctx);
    if (grantor.root) return;
    const mine = callerProjects(ctx);
    const missing = [
      ...(grantor.permissions.has("client:write") ? [] : ["client:write"]),
      ...scopes.filter((s) => !grantor.permissions.has(s)),
      ...projects.filter((id) => !mine.has(id)).map((id) => `project ${id}`),
    ];
    if (missing.length > 0) throw privilegedSecretRefused(publicId, missing);
  }

  /** Who made the call, for audit lines: "anonymous" until the auth step sets a principal. */
  private callerOf(ctx: HandlerContext): { caller: string; requestId: string | undefined } {
    return { caller: describePrincipal(principalOf(ctx)), requestId: ctx.values.get(callInfoKey)?.requestId };
  }
}
