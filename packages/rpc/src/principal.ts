import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/** Who is calling, once the auth step has authenticated the request. */
export type Principal = UserPrincipal | ApiKeyPrincipal | ClientPrincipal;

export interface UserPrincipal {
  readonly kind: "user";
  /** `sub` of the access token: the user's public id. */
  readonly userPublicId: string;
  /** OAuth client the token was issued to (`client_id`/`azp`), when the token says. */
  readonly clientId: string | undefined;
  readonly permissions: ReadonlySet<string>;
  /** project public id → project role. */
  readonly memberships: ReadonlyMap<string, string>;
  readonly emailVerified: boolean;
}

export interface ApiKeyPrincipal {
  readonly kind: "api_key";
  readonly keyPublicId: string;
  readonly projectPublicId: string;
  readonly permissions: ReadonlySet<string>;
}

/** A machine-to-machine OAuth client (client_credentials token): no user behind it. */
export interface ClientPrincipal {
  readonly kind: "client";
  /** `sub` and `client_id` of the token. */
  readonly clientId: string;
  /** The API scopes an administrator granted the client (never root). */
  readonly permissions: ReadonlySet<string>;
  /** Public ids of the projects the client was given; project-scoped rules accept only these. */
  readonly projects: ReadonlySet<string>;
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
