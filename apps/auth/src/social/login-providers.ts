import type { Sql } from "@altalune/db";
import { listEnabledProviders } from "@altalune/oauth-tables";

export interface LoginProviderButton {
  id: string;
  label: string;
  href: string;
}

/** Provider types this server can drive (Apple can be configured but is not driven yet). */
const DRIVEN_TYPES: ReadonlySet<string> = new Set(["google", "github", "microsoft", "oidc"]);

/**
 * Identity provider names our own code writes (the seed marks its superadmin with a `system`
 * identity): an upstream provider with such a slug could claim those identities, so it is never
 * used for sign-in. OAuthProviderService refuses the slug too; this is the second lock.
 */
export const RESERVED_IDENTITY_PROVIDERS: ReadonlySet<string> = new Set(["system"]);

/** The "Continue with …" links of an interaction's login page: the enabled providers in the database. */
export async function loginProviders(sql: Sql, uid: string): Promise<LoginProviderButton[]> {
  const providers = await listEnabledProviders(sql);
  return providers
    .filter((p) => DRIVEN_TYPES.has(p.providerType) && !RESERVED_IDENTITY_PROVIDERS.has(p.slug))
    .map((p) => ({ id: p.slug, label: `Continue with ${p.displayName}`, href: `/interaction/${encodeURIComponent(uid)}/upstream/${p.slug}` }));
}

/** The enabled providers a user can link on the account page: those none of their identities is at. */
export async function linkableProviders(sql: Sql, userPublicId: string): Promise<{ slug: string; displayName: string }[]> {
  const [providers, linked] = await Promise.all([
    listEnabledProviders(sql),
    sql<{ provider: string }[]>`
      select distinct i.provider from altalune_user_identities i join altalune_users u on u.id = i.user_id
      where u.public_id = ${userPublicId}`,
  ]);
  const have = new Set(linked.map((r) => r.provider));
  return providers
    .filter((p) => DRIVEN_TYPES.has(p.providerType) && !RESERVED_IDENTITY_PROVIDERS.has(p.slug) && !have.has(p.slug))
    .map((p) => ({ slug: p.slug, displayName: p.displayName }));
}
