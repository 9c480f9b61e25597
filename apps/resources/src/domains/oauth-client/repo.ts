import { newPublicId, SECURITY_TAG } from "@altalune/core";
import {
  auditedWrite,
  defineListSpec,
  runListQuery,
  tagAuditEvent,
  type ListQuery,
  type ListResult,
  type Queryable,
  type Sql,
  type TransactionSql,
} from "@altalune/db";
import { oauthClientColumns, oauthClientFromRow, type OAuthClient, type OAuthClientRow } from "@altalune/oauth-tables";
import { projectNotFound } from "../project/index.js";
import { defaultClientUndeletable, firstPartyRedirectUrisFixed, oauthClientNotFound, pkceCannotBeDisabled } from "./errors.js";
import { sameList, type NewOAuthClient, type OAuthClientChanges } from "./model.js";
import { BOOLEAN_VALUES, orderedBy } from "../../shared/table-reads.js";

export const oauthClientListSpec = defineListSpec({
  from: "altalune_oauth_clients",
  columns: oauthClientColumns,
  // client_id too: an operator often holds only the id an application logs.
  searchable: ["name", "client_id"],
  filters: {
    name: { column: "name" },
    names: { column: "name" },
    // Booleans are ORed within a key (the original ANDed each value, so "true,false" matched nothing).
    pkce_required: { kind: "boolean", column: "pkce_required" },
    pkceRequired: { kind: "boolean", column: "pkce_required" },
    is_default: { kind: "boolean", column: "is_default" },
    isDefault: { kind: "boolean", column: "is_default" },
    confidential: { kind: "boolean", column: "confidential" },
  },
  sortable: { name: "name", createdAt: "created_at", updatedAt: "updated_at", id: "id" },
  ...orderedBy("created_at", "desc"),
  catalog: {
    pkce_required: { values: BOOLEAN_VALUES },
    is_default: { values: BOOLEAN_VALUES },
    confidential: { values: BOOLEAN_VALUES },
  },
});

/** What revealing a secret needs; never returned as such by any RPC. */
export interface OAuthClientSecretRow {
  clientId: string;
  confidential: boolean;
  secretSealed: string | null;
  /** The dashboard client: its secret comes from DASHBOARD_CLIENT_SECRET, never from the API. */
  isDefault: boolean;
  /** What the secret is worth: revealing it hands these over (see the service). */
  allowedScopes: string[];
  projectIds: string[];
}

/** An applied update: the client as written, and as it was (for the audit log). */
export interface UpdatedOAuthClient {
  client: OAuthClient;
  previous: OAuthClient;
  /** Grants, codes and tokens deleted because the redirect URIs changed (0 otherwise). */
  revokedRows: number;
}

/** What a deletion removed, for the log. */
export interface DeletedOAuthClient {
  clientId: string;
  /** Rows of altalune_oidc_models (grants, codes, tokens, ...) issued to the client. */
  revokedRows: number;
}

export class OAuthClientRepo {
  constructor(private readonly sql: Sql) {}

  async query(query: ListQuery): Promise<ListResult<OAuthClient>> {
    const result = await runListQuery<OAuthClientRow>(this.sql, oauthClientListSpec, query);
    const projects = await projectsOf(this.sql, result.rows.map((r) => r.public_id));
    return { ...result, rows: result.rows.map((r) => oauthClientFromRow(r, projects.get(r.public_id) ?? [])) };
  }

  async getByPublicId(publicId: string): Promise<OAuthClient> {
    const [row] = await this.sql<OAuthClientRow[]>`
      select ${this.sql(oauthClientColumns)} from altalune_oauth_clients where public_id = ${publicId}`;
    if (row === undefined) throw oauthClientNotFound(publicId);
    return oauthClientFromRow(row, (await projectsOf(this.sql, [publicId])).get(publicId) ?? []);
  }

  /** API-created clients are never the default one: only the seed makes that. */
  async create(c: NewOAuthClient): Promise<OAuthClient> {
    return this.sql.begin(async (tx) => {
      const [row] = await auditedWrite<OAuthClientRow & { id: string }>(
        tx,
        tx`
          insert into altalune_oauth_clients
            (public_id, name, client_id, client_secret_sealed, redirect_uris, post_logout_redirect_uris,
             allowed_scopes, pkce_required, is_default, confidential)
          values (${newPublicId()}, ${c.name}, ${c.clientId}, ${c.secretSealed}, ${c.redirectUris}::text[],
                  ${c.postLogoutRedirectUris}::text[], ${c.allowedScopes}::text[], ${c.pkceRequired}, false,
                  ${c.confidential})
          returning id, ${tx(oauthClientColumns)}`,
        "public_id",
      );
      if (row === undefined) throw new Error("insert into altalune_oauth_clients returned no row");
      await setProjects(tx, row.id, c.projectIds);
      return oauthClientFromRow(row, [...c.projectIds].sort());
    });
  }

  /**
   * Applies the changes to the row locked FOR UPDATE, so the rules are checked against the state
   * being written over (a concurrent update waits). PKCE stays on for public clients and for the
   * default dashboard client; the default client's redirect URIs are the configured ones (sending
   * the same list again is not a change and passes).
   */
  async update(publicId: string, changes: OAuthClientChanges, check: (current: OAuthClient) => void = () => {}): Promise<UpdatedOAuthClient> {
    return this.sql.begin(async (tx) => {
      const current = await this.lockRow(tx, publicId);
      check(current);
      if (current.isDefault && changes.redirectUris !== undefined && !sameList(changes.redirectUris, current.redirectUris)) {
        throw firstPartyRedirectUrisFixed(publicId);
      }
      if (changes.pkceRequired === false) {
        if (!current.confidential) throw pkceCannotBeDisabled(publicId, "public");
        if (current.isDefault) throw pkceCannotBeDisabled(publicId, "default");
      }
      const next = {
        name: changes.name ?? current.name,
        redirectUris: changes.redirectUris ?? current.redirectUris,
        postLogoutRedirectUris: changes.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
        allowedScopes: changes.allowedScopes ?? current.allowedScopes,
        pkceRequired: changes.pkceRequired ?? current.pkceRequired,
        projectIds: changes.projectIds ?? current.projectIds,
      };
      const [row] = await tx<(OAuthClientRow & { id: string })[]>`
        update altalune_oauth_clients
        set name = ${next.name}, redirect_uris = ${next.redirectUris}::text[],
            post_logout_redirect_uris = ${next.postLogoutRedirectUris}::text[],
            allowed_scopes = ${next.allowedScopes}::text[], pkce_required = ${next.pkceRequired},
            updated_at = CURRENT_TIMESTAMP
        where public_id = ${publicId}
        returning id, ${tx(oauthClientColumns)}`;
      if (row === undefined) throw oauthClientNotFound(publicId);
      if (changes.projectIds !== undefined) await setProjects(tx, row.id, changes.projectIds);
      // New destinations for the client's codes: every consent given for the old ones, and every
      // code and token issued under them, ends here (users are asked again). Otherwise a re-pointed
      // client would silently receive codes of users who consented to where it used to send them.
      const repointed = !sameList(current.redirectUris, next.redirectUris);
      if (repointed) tagAuditEvent(SECURITY_TAG, "redirect_uris_changed");
      const revoked = repointed ? await tx`delete from altalune_oidc_models where client_id = ${current.clientId}` : { count: 0 };
      return { client: oauthClientFromRow(row, [...next.projectIds].sort()), previous: current, revokedRows: revoked.count };
    });
  }

  /**
   * Deletes the client and, in the same transaction, everything the auth server stored for it
   * (grants, authorization codes, access and refresh tokens...): once committed, nothing issued to
   * the client can be redeemed or refreshed. The default dashboard client is refused.
   */
  async delete(publicId: string): Promise<DeletedOAuthClient> {
    return this.sql.begin(async (tx) => {
      const [deleted] = await tx<{ client_id: string }[]>`
        delete from altalune_oauth_clients where public_id = ${publicId} and not is_default
        returning client_id::text`;
      if (deleted === undefined) {
        const [row] = await tx<{ is_default: boolean }[]>`
          select is_default from altalune_oauth_clients where public_id = ${publicId}`;
        throw row === undefined ? oauthClientNotFound(publicId) : defaultClientUndeletable(publicId);
      }
      const revoked = await tx`delete from altalune_oidc_models where client_id = ${deleted.client_id}`;
      return { clientId: deleted.client_id, revokedRows: revoked.count };
    });
  }

  async secretOf(publicId: string): Promise<OAuthClientSecretRow> {
    const [row] = await this.sql<{ client_id: string; confidential: boolean; client_secret_sealed: string | null; allowed_scopes: string[]; is_default: boolean }[]>`
      select client_id, confidential, client_secret_sealed, allowed_scopes, is_default from altalune_oauth_clients where public_id = ${publicId}`;
    if (row === undefined) throw oauthClientNotFound(publicId);
    return {
      clientId: row.client_id,
      confidential: row.confidential,
      secretSealed: row.client_secret_sealed,
      isDefault: row.is_default,
      allowedScopes: row.allowed_scopes,
      projectIds: (await projectsOf(this.sql, [publicId])).get(publicId) ?? [],
    };
  }

  private async lockRow(tx: TransactionSql, publicId: string): Promise<OAuthClient> {
    const [row] = await tx<OAuthClientRow[]>`
      select ${tx(oauthClientColumns)} from altalune_oauth_clients where public_id = ${publicId} for update`;
    if (row === undefined) throw oauthClientNotFound(publicId);
    return oauthClientFromRow(row, (await projectsOf(tx, [publicId])).get(publicId) ?? []);
  }
}

/** client public id → the public ids of its projects, sorted. */
async function projectsOf(sql: Queryable, clientPublicIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (clientPublicIds.length === 0) return out;
  const rows = await sql<{ client: string; project: string }[]>`
    select c.public_id as client, p.public_id as project
    from altalune_oauth_client_projects cp
    join altalune_oauth_clients c on c.id = cp.client_id
    join altalune_projects p on p.id = cp.project_id
    where c.public_id = any(${clientPublicIds}::text[])
    order by p.public_id`;
  for (const r of rows) out.set(r.client, [...(out.get(r.client) ?? []), r.project]);
  return out;
}

/** Replaces the client's projects; an unknown project id is NotFound and changes nothing (the transaction rolls back). */
async function setProjects(tx: TransactionSql, clientRowId: string, projectPublicIds: readonly string[]): Promise<void> {
  const found = await tx<{ id: string; public_id: string }[]>`
    select id, public_id from altalune_projects where public_id = any(${projectPublicIds}::text[])`;
  const missing = projectPublicIds.find((id) => !found.some((f) => f.public_id === id));
  if (missing !== undefined) throw projectNotFound(missing);
  await tx`delete from altalune_oauth_client_projects where client_id = ${clientRowId}`;
  if (found.length > 0) {
    await tx`
      insert into altalune_oauth_client_projects (client_id, project_id)
      select ${clientRowId}, unnest(${found.map((f) => f.id)}::bigint[])`;
  }
}
