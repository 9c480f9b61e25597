import type { Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type Provider from "oidc-provider";
import type { SecurityAudit } from "../audit/index.js";
import type { EmailVerification } from "../email-verification/index.js";
import type { AuthEvents } from "../metrics.js";
import type { KnownDevices, LoginCodes } from "../login-codes/index.js";

export interface InteractionDeps {
  provider: () => Provider;
  sql: Sql;
  brand: string;
  csrfSecret: Buffer;
  loginCodes: LoginCodes;
  /** Reads and writes the known-device cookie (browsers that signed in to an address before). */
  knownDevices: KnownDevices;
  /** Secure cookies (production, behind TLS). */
  secureCookies: boolean;
  verification: EmailVerification;
  logger: Logger;
  formMaxBytes: number;
  /** Logins, codes sent and consents (metrics). */
  events?: AuthEvents;
  /** The same, in the audit log. */
  audit?: SecurityAudit;
}
