import type { Context } from "koa";
import type { Clock } from "@altalune/core";
import type { AccessTokenClaims, UserTokenClaims } from "@altalune/access-tokens";
import type { BffUser } from "./bff-user-type.js";
import type { BffDeps } from "./deps.js";

export type { BffUser };

function userOf(claims: UserTokenClaims): BffUser {
  return {
    sub: claims.userPublicId,
    ...(claims.email === undefined ? {} : { email: claims.email }),
    email_verified: claims.emailVerified,
    ...(claims.name === undefined ? {} : { name: claims.name }),
    perms: [...claims.permissions].sort(),
    memberships: Object.fromEntries(claims.memberships),
  };
}

export type BffUsers = ReturnType<typeof bffUsers>;

/** Every answer's user comes from a verified access token. */
export function bffUsers(deps: Pick<BffDeps, "verifier">, clock: Clock) {
  return {
    // The BFF speaks for a signed-in person: a machine client's token in the cookie is not a session.
    async verify(token: string): Promise<UserTokenClaims> {
      const claims: AccessTokenClaims = await deps.verifier.verify(token);
      if (claims.principal !== "user") throw new Error("not a user's access token");
      return claims;
    },

    answer(ctx: Context, claims: UserTokenClaims): void {
      ctx.set("cache-control", "no-store");
      ctx.body = { user: userOf(claims), expires_in: Math.max(0, Math.floor((claims.expiresAt - clock().getTime()) / 1000)) };
    },
  };
}
