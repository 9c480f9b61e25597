import type { Sql } from "@altalune/db";

/**
 * Identities whose link may have come from the old rule (an upstream asserting a verified address
 * was enough to attach it to an existing account, migration 0015). They cannot be told apart from
 * links the user wanted, so they are listed for an operator to review (`altalune identities
 * audit`); nothing is changed. Listed: linked_by 'email_match' (the migration's verdict for
 * every identity created after its user, and what an insert that does not state an origin gets),
 * and any identity marked 'registration' that is younger than its user (a registration creates
 * both at once). Not listed: the seed's marker (provider 'system'), confirmed links
 * ('account_page', 'email_login').
 */

export interface AuditedIdentity {
  userPublicId: string;
  email: string;
  provider: string;
  providerUserId: string;
  identityEmail: string | null;
  linkedBy: string;
  userCreatedAt: Date;
  identityCreatedAt: Date;
  lastLoginAt: Date | null;
}

export async function auditIdentities(sql: Sql): Promise<AuditedIdentity[]> {
  const rows = await sql<
    {
      public_id: string;
      email: string;
      provider: string;
      provider_user_id: string;
      identity_email: string | null;
      linked_by: string;
      user_created_at: Date;
      identity_created_at: Date;
      last_login_at: Date | null;
    }[]
  >`
    select u.public_id, u.email, i.provider, i.provider_user_id, i.email as identity_email, i.linked_by,
           u.created_at as user_created_at, i.created_at as identity_created_at, i.last_login_at
    from altalune_user_identities i join altalune_users u on u.id = i.user_id
    where i.provider <> 'system'
      and (i.linked_by = 'email_match' or (i.linked_by = 'registration' and i.created_at > u.created_at))
    order by i.created_at, i.id`;
  return rows.map((r) => ({
    userPublicId: r.public_id,
    email: r.email,
    provider: r.provider,
    providerUserId: r.provider_user_id,
    identityEmail: r.identity_email,
    linkedBy: r.linked_by,
    userCreatedAt: r.user_created_at,
    identityCreatedAt: r.identity_created_at,
    lastLoginAt: r.last_login_at,
  }));
}
