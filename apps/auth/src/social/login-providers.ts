import type { Sql } from "@altalune/db";
import { listEnabledProviders } from "@altalune/resources";

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
