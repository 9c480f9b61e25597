import type { Context } from "koa";
import type { Clock, Config, Logger } from "@altalune/core";
import type { AccessTokenClaims } from "@altalune/access-tokens";
import type { RateLimitResult } from "../rate-limit/index.js";
import type { TokenSet } from "./token-client.js";

/** Where the BFF lives; the refresh cookie is sent only here. */
export const BFF_PATH = "/oauth";
/** The BFF's routes under BFF_PATH (the other /oauth/* paths are oidc-provider's). */
export const BFF_ROUTES = ["/exchange", "/refresh", "/me", "/logout"] as const;

export interface BffTokenClient {
  exchangeCode(code: string, codeVerifier: string, redirectUri: string): Promise<TokenSet>;
  refresh(refreshToken: string): Promise<TokenSet>;
  revokeRefreshToken(refreshToken: string): Promise<void>;
}

export interface BffDeps {
  config: Pick<Config, "production" | "cookieDomain" | "allowedOrigins" | "auth" | "dashboardClient">;
  logger: Logger;
  /** The dashboard client; undefined when DASHBOARD_CLIENT_ID/SECRET are not configured. */
  tokens: BffTokenClient | undefined;
  verifier: { verify(token: string): Promise<AccessTokenClaims> };
  /**
   * The token-endpoint budget of one end user (TOKEN_RATE_LIMIT_PER_MINUTE per address): the BFF's
   * own calls skip the endpoint's per-client limit, so one busy web frontend does not throttle all
   * its users as "one client on one address".
   */
  tokenLimit: (ip: string) => Promise<RateLimitResult>;
  /** Ends the auth server's login session of this browser (its signed session cookie), if any. */
  endSession(ctx: Context): Promise<void>;
  /** Default: the system clock. */
  clock?: Clock;
}
