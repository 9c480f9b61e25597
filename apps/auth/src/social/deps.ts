import type { Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type Provider from "oidc-provider";
import type { SecurityAudit } from "../audit/index.js";
import type { UserCreatedListener } from "../email-verification/index.js";
import type { AuthEvents } from "../metrics.js";
import type { UpstreamClient } from "./upstream.js";

export interface SocialLoginDeps {
  provider: () => Provider;
  sql: Sql;
  config: Config;
  logger: Logger;
  encryptionKey: Buffer;
  brand: string;
  /**
   * The account forms' CSRF tokens (linking from the account page). The sign-in routes are GETs
   * that need none: starting a sign-in requires this browser's interaction cookie, which a
   * cross-site page cannot make the browser send for an interaction it does not know.
   */
  csrfSecret: Buffer;
  /** Default: a client with 10 s timeouts, 10 min discovery cache and OutboundPolicy.fromConfig(config). */
  upstream?: UpstreamClient;
  /** Told about every user registered here (e.g. to mail a verification link to an unverified address). */
  userCreated?: UserCreatedListener;
  /** Logins by provider type and result (metrics). */
  events?: AuthEvents;
  /** Logins and identities linked, in the audit log. */
  audit?: SecurityAudit;
}

/** What the sign-in and link routes share once socialLoginRoutes has filled in the defaults. */
export type SocialRouteDeps = SocialLoginDeps & {
  upstream: UpstreamClient;
  /** The redirect URI registered at the provider (GET /login/:slug/callback). */
  redirectUriOf: (slug: string) => string;
};
