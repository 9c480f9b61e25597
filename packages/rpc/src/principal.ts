import type { ClientTokenClaims, UserTokenClaims } from "@altalune/access-tokens";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/** Who is calling, once the auth step has authenticated the request. */
export type Principal = UserPrincipal | ApiKeyPrincipal | ClientPrincipal;

/** A user's access token: what authorization reads of its claims (the fields are documented there). */
export interface UserPrincipal extends Pick<UserTokenClaims, "userPublicId" | "clientId" | "permissions" | "memberships" | "emailVerified"> {
  readonly kind: "user";
}

export interface ApiKeyPrincipal {
  readonly kind: "api_key";
  readonly keyPublicId: string;
  readonly projectPublicId: string;
  readonly permissions: ReadonlySet<string>;
}

/** A machine-to-machine OAuth client (client_credentials token): no user behind it. */
export interface ClientPrincipal extends Pick<ClientTokenClaims, "clientId" | "permissions" | "projects"> {
  readonly kind: "client";
}

/** Set by the auth step for authenticated calls; absent on anonymous calls to public RPCs. */
export const principalKey = createContextKey<Principal | undefined>(undefined);

export function principalOf(ctx: Pick<HandlerContext, "values">): Principal | undefined {
  return ctx.values.get(principalKey);
}

/** A short, log-safe description of the caller for audit lines ("user:abc…", "api_key:…"). */
export function describePrincipal(p: Principal | undefined): string {
  if (p === undefined) return "anonymous";
  switch (p.kind) {
    case "user":
      return `user:${p.userPublicId}`;
    case "client":
      return `client:${p.clientId}`;
    case "api_key":
      return `api_key:${p.keyPublicId}@${p.projectPublicId}`;
  }
}
