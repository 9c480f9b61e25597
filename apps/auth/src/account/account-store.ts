import type { Sql } from "@altalune/db";
import { ACCOUNT_CLIENT_ID } from "../provider/client-store.js";
import type { AccountConsentView, AccountIdentityView } from "../views/index.js";

/**
 * What the account pages read and change besides the provider's session: the user's identities,
 * the grants (consents) applications hold, and the user's names.
 */

/** Identities from social login, newest sign-in first; the provider's display name when it is still configured. */
export async function identitiesOf(sql: Sql, userPublicId: string): Promise<AccountIdentityView[]> {
  const rows = await sql<{ provider: string; display_name: string | null; origin: string | null; last_login_at: Date | null }[]>`
    select i.provider, p.display_name, i.origin_oauth_client_name as origin, i.last_login_at
    from altalune_user_identities i
    join altalune_users u on u.id = i.user_id
    left join altalune_oauth_providers p on p.slug = i.provider
    where u.public_id = ${userPublicId}
    order by i.last_login_at desc nulls last, i.created_at desc`;
  return rows.map((r) => ({ provider: r.display_name ?? r.provider, originApp: r.origin, lastLoginAt: r.last_login_at }));
}

interface GrantRow {
  client_id: string;
  client_name: string | null;
  payload: { openid?: { scope?: string }; resources?: Record<string, string> };
  created_at: Date;
}

/**
 * One entry per application holding a live grant of the user (oidc-provider keeps one Grant per
 * login session and client): the union of their scopes and the latest grant's date. The account
 * pages' own client is not an application the user consented to, so it is not listed.
 */
export async function consentsOf(sql: Sql, userPublicId: string): Promise<AccountConsentView[]> {
  const rows = await sql<GrantRow[]>`
    select g.client_id, c.name as client_name, g.payload, g.created_at
    from altalune_oidc_models g
    left join altalune_oauth_clients c on c.client_id::text = g.client_id
    where g.model = 'Grant' and g.account_id = ${userPublicId} and g.client_id <> ${ACCOUNT_CLIENT_ID}
      and (g.expires_at is null or g.expires_at > CURRENT_TIMESTAMP)
    order by g.created_at`;
  const byClient = new Map<string, AccountConsentView & { scopeSet: Set<string> }>();
  for (const row of rows) {
    const entry = byClient.get(row.client_id) ?? {
      clientId: row.client_id,
      clientName: row.client_name ?? "A deleted application",
      scopes: [],
      scopeSet: new Set<string>(),
      grantedAt: row.created_at,
    };
    const scopes = [row.payload.openid?.scope ?? "", ...Object.values(row.payload.resources ?? {})].join(" ");
    for (const s of scopes.split(" ")) if (s) entry.scopeSet.add(s);
    if (row.created_at > entry.grantedAt) entry.grantedAt = row.created_at;
    byClient.set(row.client_id, entry);
  }
  return [...byClient.values()]
    .map(({ scopeSet, ...c }) => ({ ...c, scopes: [...scopeSet] }))
    .sort((a, b) => b.grantedAt.getTime() - a.grantedAt.getTime());
}

/**
 * Revokes every grant of `clientId` held for this user, with everything issued under them
 * (access and refresh tokens, authorization codes): the pg adapter's revokeByGrantId, for all of
 * the user's grants to that client at once (grant_id is hashed, so the grants are selected by
 * column, never by their raw ids). Returns how many live grants there were; 0 = no consent.
 * Another user's grant never matches: the user is part of the condition.
 */
export async function revokeConsent(sql: Sql, userPublicId: string, clientId: string): Promise<number> {
  if (clientId === ACCOUNT_CLIENT_ID) return 0;
  const [row] = await sql<{ grants: number }[]>`
    with grants as (
      select grant_id from altalune_oidc_models
      where model = 'Grant' and account_id = ${userPublicId} and client_id = ${clientId} and grant_id is not null),
    deleted as (
      delete from altalune_oidc_models m where m.grant_id in (select grant_id from grants)
      returning m.model, m.expires_at)
    select count(*) filter (where model = 'Grant' and (expires_at is null or expires_at > CURRENT_TIMESTAMP))::int as grants
    from deleted`;
  return row?.grants ?? 0;
}

export async function updateNames(sql: Sql, userPublicId: string, firstName: string, lastName: string): Promise<boolean> {
  const result = await sql`
    update altalune_users set first_name = ${firstName}, last_name = ${lastName}, updated_at = CURRENT_TIMESTAMP
    where public_id = ${userPublicId}`;
  return result.count === 1;
}
