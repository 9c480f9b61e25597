import { newPublicId } from "@altalune/core";
import type { Sql, TransactionSql } from "@altalune/db";

/**
 * Who an upstream sign-in is, in our IAM tables. In one transaction:
 * 1. an identity (provider, provider user id) exists → its user;
 * 2. else, only if the upstream says the address is verified (anyone can put any address on an
 *    account at some providers): a user with the same email → a new identity is linked to them;
 * 3. else a new user is registered with the global role `user` and a membership in the default
 *    project. An unverified address neither links (that would hand over the user) nor registers
 *    (that would pre-create the real owner's account, still open to the upstream identity).
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
  | { outcome: "signed_in" | "linked" | "registered"; user: ResolvedUser }
  | { outcome: "refused"; reason: "unverified_email" | "no_email" };

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
  const [sameEmail] = await tx<UserRow[]>`
    select id, public_id, email, is_active, email_verified from altalune_users where email = ${identity.email} for update`;
  if (sameEmail) {
    await insertIdentity(tx, sameEmail.id, identity, context);
    // The upstream has just proven the address, which is this user's.
    const [user] = await tx<UserRow[]>`
      update altalune_users
      set email_verified = true, updated_at = CURRENT_TIMESTAMP,
          avatar_url = coalesce(avatar_url, ${identity.avatarUrl ?? null})
      where id = ${sameEmail.id}
      returning id, public_id, email, is_active, email_verified`;
    await fillMissingNames(tx, sameEmail.id, identity);
    return { outcome: "linked", user: resolved(user ?? sameEmail) };
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
  await insertIdentity(tx, created.id, identity, context);
  return { outcome: "registered", user: resolved(created) };
}

async function insertIdentity(tx: TransactionSql, userId: string, identity: UpstreamIdentity, context: RegistrationContext): Promise<void> {
  const [row] = await tx<{ id: string }[]>`
    insert into altalune_user_identities
      (public_id, user_id, provider, provider_user_id, email, first_name, last_name,
       oauth_client_id, origin_oauth_client_name, last_login_at)
    values (${newPublicId()}, ${userId}, ${identity.provider}, ${identity.providerUserId}, ${identity.email ?? null},
            ${identity.firstName}, ${identity.lastName}, ${context.clientId ?? null},
            ${context.clientName === undefined ? null : clip(context.clientName, NAME_MAX)}, CURRENT_TIMESTAMP)
    on conflict (provider, provider_user_id) do nothing
    returning id`;
  // The same upstream account signed in concurrently and its transaction committed first.
  if (!row) throw new LostRace();
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
