import { newPublicId } from "@altalune/core";
import type { Sql, TransactionSql } from "@altalune/db";

/**
 * Who an upstream sign-in is, in our IAM tables. In one transaction:
 * 1. an identity (provider, provider user id) exists → its user;
 * 2. else, only if the upstream says the address is verified (anyone can put any address on an
 *    account at some providers): a user with the same email → NOT signed in and nothing linked
 *    ("link_required"). An upstream's word about an address is not proof of owning our account:
 *    whoever configures a provider (provider:write) could claim any address, the superadmin's
 *    included. The account has to prove itself first (linkIdentity: from the account page, or
 *    after an email-code sign-in that confirms the offer of the callback);
 * 3. else a new user is registered with the global role `user` and a membership in the default
 *    project. An unverified address does not register either (that would pre-create the real
 *    owner's account, still open to the upstream identity).
 * The unique indexes on users.email and identities (provider, provider_user_id) decide between
 * concurrent first sign-ins of one person: the loser's transaction rolls back and is retried,
 * and then finds what the winner created.
 */

export interface UpstreamIdentity {
  /** The provider's slug (identities.provider). */
  provider: string;
  /** The upstream subject: OIDC `sub`, GitHub's numeric user id. */
  providerUserId: string;
  /** Lower-cased; undefined when the provider shared none. */
  email: string | undefined;
  /** Only true when the upstream asserts it (email_verified, GitHub's verified flag). */
  emailVerified: boolean;
  firstName: string;
  lastName: string;
  avatarUrl: string | undefined;
}

/** Where the sign-in came from: the OAuth client of the interaction. */
export interface RegistrationContext {
  /** The interaction's client_id (a UUID); undefined when it is not one of our clients. */
  clientId: string | undefined;
  clientName: string | undefined;
  /** The client is the first-party dashboard (altalune_oauth_clients.is_default). */
  dashboard: boolean;
  /** AUTO_ACTIVATE: whether new users may sign in before an administrator activates them. */
  autoActivate: boolean;
}

export interface ResolvedUser {
  publicId: string;
  email: string;
  isActive: boolean;
  emailVerified: boolean;
}

export type AccountResolution =
  | { outcome: "signed_in" | "registered"; user: ResolvedUser }
  /** The address belongs to an existing user (internal id), who must prove themselves before the identity is linked. */
  | { outcome: "link_required"; userId: string; identity: UpstreamIdentity }
  | { outcome: "refused"; reason: "unverified_email" | "no_email" };

/** How an identity came to its user (altalune_user_identities.linked_by, migration 0015). */
export type LinkedBy = "registration" | "account_page" | "email_login";

/** The global role every registered user gets (seeded, apps/resources role/model.ts). */
export const DEFAULT_USER_ROLE = "user";
/** Project roles of a self-registered user: members of the dashboard, plain users elsewhere. */
export const DASHBOARD_PROJECT_ROLE = "member";
export const OTHER_PROJECT_ROLE = "user";

const NAME_MAX = 100;
const EMAIL_MAX = 255;
const AVATAR_MAX = 512;
const RESOLVE_ATTEMPTS = 3;

/** The other transaction of a concurrent first sign-in won a unique index; start again. */
class LostRace extends Error {}

interface UserRow {
  id: string;
  public_id: string;
  email: string;
  is_active: boolean;
  email_verified: boolean;
}

const resolved = (r: UserRow): ResolvedUser => ({ publicId: r.public_id, email: r.email, isActive: r.is_active, emailVerified: r.email_verified });

const clip = (s: string, max: number): string => [...s.trim()].slice(0, max).join("");

/** Upstream values fitted to our columns: names clipped, odd emails and avatar URLs dropped. */
export function normalizeIdentity(identity: UpstreamIdentity): UpstreamIdentity {
  const email = identity.email?.trim().toLowerCase();
  const avatar = identity.avatarUrl?.trim();
  return {
    ...identity,
    email: email !== undefined && email.length <= EMAIL_MAX && /^[^\s@]+@[^\s@]+$/.test(email) ? email : undefined,
    firstName: clip(identity.firstName, NAME_MAX),
    lastName: clip(identity.lastName, NAME_MAX),
    avatarUrl: avatar !== undefined && avatar.length <= AVATAR_MAX && /^https?:\/\//i.test(avatar) && URL.canParse(avatar) ? avatar : undefined,
  };
}

export interface ResolveHooks {
  /** Called after the commit of a registration (e.g. to send a verification mail). */
  registered?(user: ResolvedUser): Promise<void>;
}

export async function resolveAccount(
  sql: Sql,
  upstream: UpstreamIdentity,
  context: RegistrationContext,
  hooks: ResolveHooks = {},
): Promise<AccountResolution> {
  const identity = normalizeIdentity(upstream);
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await sql.begin((tx) => resolveOnce(tx, identity, context));
      if (result.outcome === "registered") await hooks.registered?.(result.user);
      return result;
    } catch (e) {
      if (!(e instanceof LostRace) || attempt >= RESOLVE_ATTEMPTS) throw e;
    }
  }
}

async function resolveOnce(tx: TransactionSql, identity: UpstreamIdentity, context: RegistrationContext): Promise<AccountResolution> {
  const [known] = await tx<(UserRow & { identity_id: string })[]>`
    select u.id, u.public_id, u.email, u.is_active, u.email_verified, i.id as identity_id
    from altalune_user_identities i join altalune_users u on u.id = i.user_id
    where i.provider = ${identity.provider} and i.provider_user_id = ${identity.providerUserId}
    for update of i`;
  if (known) {
    // The identity mirrors the upstream account; the user's own profile (names they may have
    // edited) is left alone, except for names it never had.
    await tx`
      update altalune_user_identities
      set last_login_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP,
          email = coalesce(${identity.email ?? null}, email),
          first_name = ${identity.firstName}, last_name = ${identity.lastName}
      where id = ${known.identity_id}`;
    await fillMissingNames(tx, known.id, identity);
    return { outcome: "signed_in", user: resolved(known) };
  }

  if (identity.email === undefined) return { outcome: "refused", reason: "no_email" };

  // An address the upstream has not verified neither links nor registers: a registration would
  // pre-create the account of whoever really owns the address (they would later sign in with an
  // email code to an account the upstream identity still opens).
  if (!identity.emailVerified) return { outcome: "refused", reason: "unverified_email" };
  const [sameEmail] = await tx<{ id: string }[]>`select id from altalune_users where email = ${identity.email}`;
  if (sameEmail) {
    // A concurrent first sign-in of this very upstream account may have registered the address
    // (user and identity commit together) after the look-up above: then it is a sign-in, retried.
    const [registered] = await tx`
      select 1 from altalune_user_identities where provider = ${identity.provider} and provider_user_id = ${identity.providerUserId}`;
    if (registered) throw new LostRace();
    // Nothing is written: the account's owner has not been heard from.
    return { outcome: "link_required", userId: sameEmail.id, identity };
  }

  const [created] = await tx<UserRow[]>`
    insert into altalune_users (public_id, email, first_name, last_name, avatar_url, is_active, email_verified, activated_at)
    values (${newPublicId()}, ${identity.email}, ${identity.firstName}, ${identity.lastName}, ${identity.avatarUrl ?? null},
            ${context.autoActivate}, true, ${context.autoActivate ? tx`CURRENT_TIMESTAMP` : null})
    on conflict (email) do nothing
    returning id, public_id, email, is_active, email_verified`;
  // Someone registered this address a moment ago: start again, and link or refuse like above.
  if (!created) throw new LostRace();
  await tx`
    insert into altalune_users_roles (user_id, role_id)
    select ${created.id}, id from altalune_roles where system_key = ${DEFAULT_USER_ROLE}
    on conflict do nothing`;
  await tx`
    insert into altalune_project_members (project_id, user_id, role)
    select id, ${created.id}, ${context.dashboard ? DASHBOARD_PROJECT_ROLE : OTHER_PROJECT_ROLE}
    from altalune_projects where is_default
    on conflict do nothing`;
  if ((await insertIdentity(tx, created.id, identity, context, "registration")) === undefined) throw new LostRace();
  return { outcome: "registered", user: resolved(created) };
}

/** The new identity's id; undefined when (provider, provider user id) is taken (a concurrent first sign-in committed first). */
async function insertIdentity(
  tx: TransactionSql,
  userId: string,
  identity: UpstreamIdentity,
  context: Pick<RegistrationContext, "clientId" | "clientName">,
  linkedBy: LinkedBy,
): Promise<string | undefined> {
  const [row] = await tx<{ id: string }[]>`
    insert into altalune_user_identities
      (public_id, user_id, provider, provider_user_id, email, first_name, last_name,
       oauth_client_id, origin_oauth_client_name, last_login_at, linked_by)
    values (${newPublicId()}, ${userId}, ${identity.provider}, ${identity.providerUserId}, ${identity.email ?? null},
            ${identity.firstName}, ${identity.lastName}, ${context.clientId ?? null},
            ${context.clientName === undefined ? null : clip(context.clientName, NAME_MAX)},
            ${linkedBy === "registration" ? tx`CURRENT_TIMESTAMP` : null}, ${linkedBy})
    on conflict (provider, provider_user_id) do nothing
    returning id`;
  return row?.id;
}

export type LinkResult = "linked" | "already_linked" | "linked_to_other_user";

/**
 * Links an upstream identity to a user who has proven to be that user (signed in on the account
 * page, or just signed in with an email code and confirmed). The identity may already belong to
 * this user (nothing changes) or to another one (refused: one upstream account, one user).
 */
export async function linkIdentity(
  sql: Sql,
  userId: string,
  upstream: UpstreamIdentity,
  context: Pick<RegistrationContext, "clientId" | "clientName">,
  linkedBy: Exclude<LinkedBy, "registration">,
): Promise<LinkResult> {
  const identity = normalizeIdentity(upstream);
  return sql.begin(async (tx) => {
    if ((await insertIdentity(tx, userId, identity, context, linkedBy)) !== undefined) {
      await fillMissingNames(tx, userId, identity);
      return "linked";
    }
    const [owner] = await tx<{ user_id: string }[]>`
      select user_id from altalune_user_identities where provider = ${identity.provider} and provider_user_id = ${identity.providerUserId}`;
    return owner?.user_id === userId ? "already_linked" : "linked_to_other_user";
  });
}

async function fillMissingNames(tx: TransactionSql, userId: string, identity: UpstreamIdentity): Promise<void> {
  if (identity.firstName === "" && identity.lastName === "") return;
  await tx`
    update altalune_users set first_name = ${identity.firstName}, last_name = ${identity.lastName}, updated_at = CURRENT_TIMESTAMP
    where id = ${userId} and first_name = '' and last_name = ''`;
}

/** The registration context of an interaction's client (one read of altalune_oauth_clients). */
export async function registrationContext(sql: Sql, clientId: string | undefined, autoActivate: boolean): Promise<RegistrationContext> {
  const uuid = clientId !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(clientId) ? clientId : undefined;
  if (uuid === undefined) return { clientId: undefined, clientName: undefined, dashboard: false, autoActivate };
  const [row] = await sql<{ name: string; is_default: boolean }[]>`
    select name, is_default from altalune_oauth_clients where client_id = ${uuid}`;
  return { clientId: row ? uuid : undefined, clientName: row?.name, dashboard: row?.is_default ?? false, autoActivate };
}
