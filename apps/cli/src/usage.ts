import { DEFAULT_KEY_POLL_MS } from "@altalune/auth";

/**
 * How long a new key is published before it signs: longer than every auth replica's key poll
 * (5 s), so each publishes it first, and than the Resources API's JWKS refetch cooldown (30 s),
 * so no API replica that fetched the keys just before the rotation refuses the new key's tokens.
 */
export const DEFAULT_ROTATION_DELAY_SECONDS = Math.max((2 * DEFAULT_KEY_POLL_MS) / 1000, 30) + 5;

export const USAGE = `usage: altalune <command>

commands:
  dev                     embedded PostgreSQL when DATABASE_URL is unset, migrate, seed, serve
                          the Resources API, the auth server and the web client (:WEB_PORT) together
  serve                   serve the Resources API (Connect :RESOURCES_PORT, gRPC :GRPC_PORT)
  serve-auth              serve the OAuth 2.0 / OpenID Connect server (:AUTH_PORT, issuer AUTH_ISSUER)
  keys rotate [--delay-seconds N]
                          add a signing key; it signs after N seconds (default ${DEFAULT_ROTATION_DELAY_SECONDS},
                          time for every replica to publish it); older keys stay in the JWKS
                          until the tokens they signed have expired
  token issue --email <address> [--ttl 15m]
                          print an access token for that user with their current claims
                          (needs the database and ENCRYPTION_KEY)
  identities audit        list social-login identities that may have been linked to an existing
                          account by email address alone (before migration 0015), for review;
                          changes nothing
  migrate up [--skip-seed]
  migrate down [--steps N]
  migrate status
  seed                    idempotent seed data (default project, roles, permissions, superadmin)
`;

/** A command line that names no valid command: what is wrong, then the usage, on stderr; exit code 2. */
export function usageError(problem: string): number {
  process.stderr.write(`${problem}\n\n${USAGE}`);
  return 2;
}
