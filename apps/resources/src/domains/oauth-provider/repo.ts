import { SECURITY_TAG } from "@altalune/core";
import { auditedWrite, defineListSpec, isUniqueViolation, tagAuditEvent, type TransactionSql } from "@altalune/db";
import { oauthProviderColumns, oauthProviderFromRow, type OAuthProvider, type OAuthProviderRow } from "@altalune/oauth-tables";
import { duplicateProviderType, duplicateSlug, oauthProviderNotFound } from "./errors.js";
import type { NewOAuthProvider, OAuthProviderChanges } from "./model.js";
import { BOOLEAN_VALUES, orderedBy, tableRepo } from "../../shared/table-reads.js";

export const oauthProviderListSpec = defineListSpec({
  from: "altalune_oauth_providers",
  columns: oauthProviderColumns,
  searchable: ["provider_type", "slug", "display_name", "client_id"],
  filters: {
    provider_type: { column: "provider_type" },
    providerType: { column: "provider_type" },
    slug: { column: "slug" },
    enabled: { kind: "boolean", column: "enabled" },
  },
  sortable: {
    providerType: "provider_type",
    slug: "slug",
    displayName: "display_name",
    clientId: "client_id",
    enabled: "enabled",
    createdAt: "created_at",
    updatedAt: "updated_at",
    id: "id",
  },
  ...orderedBy("created_at", "desc"),
  catalog: {
    provider_type: { distinct: "provider_type" },
    enabled: { values: BOOLEAN_VALUES },
  },
});

/** What revealing a secret needs; never returned as such by any RPC. */
export interface OAuthProviderSecretRow {
  providerType: string;
  slug: string;
  secretSealed: string;
}

/**
 * Computes the state to write from the row locked for the update; throws to refuse the update
 * (nothing is written).
 */
export type UpdatePlan = (current: OAuthProvider) => OAuthProviderChanges;

/** Users lose the sign-in method: a security event of the call, in its audit row. */
async function unlinkIdentities(tx: TransactionSql, slug: string): Promise<void> {
  const unlinked = await tx`delete from altalune_user_identities where provider = ${slug}`;
  if (unlinked.count > 0) tagAuditEvent(SECURITY_TAG, "identities_unlinked");
}

export class OAuthProviderRepo extends tableRepo(oauthProviderListSpec, oauthProviderFromRow, oauthProviderNotFound) {
  /** The unique indexes decide: one row per fixed type, one per slug. */
  async create(p: NewOAuthProvider): Promise<OAuthProvider> {
    try {
      const [row] = await auditedWrite<OAuthProviderRow>(
        this.sql,
        this.sql`
          insert into altalune_oauth_providers
            (public_id, provider_type, slug, display_name, client_id, client_secret_sealed, scopes, enabled,
             issuer_url, authorization_endpoint, token_endpoint, userinfo_endpoint)
          values (${p.publicId}, ${p.providerType}, ${p.slug}, ${p.displayName}, ${p.clientId}, ${p.secretSealed},
                  ${p.scopes}::text[], ${p.enabled}, ${p.issuerUrl}, ${p.authorizationEndpoint}, ${p.tokenEndpoint},
                  ${p.userinfoEndpoint})
          returning ${this.sql(oauthProviderColumns)}`,
        "public_id",
      );
      if (row === undefined) throw new Error("insert into altalune_oauth_providers returned no row");
      return oauthProviderFromRow(row);
    } catch (e) {
      // A fixed type's slug is its type, so either index may report it: both mean "this type exists".
      if (p.providerType !== "oidc" && (isUniqueViolation(e, "ux_altalune_oauth_providers_type") || isUniqueViolation(e, "ux_altalune_oauth_providers_slug"))) {
        throw duplicateProviderType(p.providerType);
      }
      if (isUniqueViolation(e, "ux_altalune_oauth_providers_slug")) throw duplicateSlug(p.slug);
      throw e;
    }
  }

  /**
   * Locks the row, lets `plan` check the changes against it (its type decides which fields apply),
   * and writes the result in the same transaction, so a concurrent update waits instead of being
   * checked against a state that is about to change.
   */
  async update(publicId: string, plan: UpdatePlan): Promise<OAuthProvider> {
    return this.sql.begin(async (tx) => {
      const [locked] = await tx<OAuthProviderRow[]>`
        select ${tx(oauthProviderColumns)} from altalune_oauth_providers where public_id = ${publicId} for update`;
      if (locked === undefined) throw oauthProviderNotFound(publicId);
      const current = oauthProviderFromRow(locked);
      const c = plan(current);
      const next = {
        clientId: c.clientId ?? current.clientId,
        scopes: c.scopes ?? current.scopes,
        enabled: c.enabled ?? current.enabled,
        displayName: c.displayName ?? current.displayName,
        issuerUrl: c.issuerUrl === undefined ? current.issuerUrl : c.issuerUrl,
        authorizationEndpoint: c.authorizationEndpoint === undefined ? current.authorizationEndpoint : c.authorizationEndpoint,
        tokenEndpoint: c.tokenEndpoint === undefined ? current.tokenEndpoint : c.tokenEndpoint,
        userinfoEndpoint: c.userinfoEndpoint === undefined ? current.userinfoEndpoint : c.userinfoEndpoint,
      };
      const [row] = await tx<OAuthProviderRow[]>`
        update altalune_oauth_providers
        set client_id = ${next.clientId}, scopes = ${next.scopes}::text[], enabled = ${next.enabled},
            display_name = ${next.displayName}, issuer_url = ${next.issuerUrl},
            authorization_endpoint = ${next.authorizationEndpoint}, token_endpoint = ${next.tokenEndpoint},
            userinfo_endpoint = ${next.userinfoEndpoint},
            client_secret_sealed = coalesce(${c.secretSealed ?? null}, client_secret_sealed),
            updated_at = CURRENT_TIMESTAMP
        where public_id = ${publicId}
        returning ${tx(oauthProviderColumns)}`;
      if (row === undefined) throw oauthProviderNotFound(publicId);
      // Another issuer (or API) is another namespace of user ids: identities linked under the old
      // one must not open accounts for whoever has the same id at the new one.
      const elsewhere =
        next.issuerUrl !== current.issuerUrl ||
        next.authorizationEndpoint !== current.authorizationEndpoint ||
        next.tokenEndpoint !== current.tokenEndpoint ||
        next.userinfoEndpoint !== current.userinfoEndpoint;
      if (elsewhere) await unlinkIdentities(tx, current.slug);
      return oauthProviderFromRow(row);
    });
  }

  /**
   * Hard delete. The identities linked through the provider are unlinked with it (the users stay):
   * a provider created later with the same slug may be another identity provider.
   */
  async delete(publicId: string): Promise<OAuthProvider> {
    return this.sql.begin(async (tx) => {
      const [row] = await tx<OAuthProviderRow[]>`
        delete from altalune_oauth_providers where public_id = ${publicId} returning ${tx(oauthProviderColumns)}`;
      if (row === undefined) throw oauthProviderNotFound(publicId);
      const deleted = oauthProviderFromRow(row);
      await unlinkIdentities(tx, deleted.slug);
      return deleted;
    });
  }

  async secretOf(publicId: string): Promise<OAuthProviderSecretRow> {
    const [row] = await this.sql<{ provider_type: string; slug: string; client_secret_sealed: string }[]>`
      select provider_type, slug, client_secret_sealed from altalune_oauth_providers where public_id = ${publicId}`;
    if (row === undefined) throw oauthProviderNotFound(publicId);
    return { providerType: row.provider_type, slug: row.slug, secretSealed: row.client_secret_sealed };
  }
}
