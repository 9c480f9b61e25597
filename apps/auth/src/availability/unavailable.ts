import { DatabaseUnavailableError, isDatabaseUnavailableError } from "@altalune/db";
import { errors } from "oidc-provider";

/**
 * Seconds a client is told to wait (Retry-After) when the database is unavailable or the server
 * is at its in-flight limit. Short on purpose: the pool reconnects within a fraction of a second
 * after the database accepts connections again (docs/operations.md).
 */
export const RETRY_AFTER_SECONDS = 1;

/** What made a request unanswerable for now; worded for the `error_description` / problem detail. */
export type UnavailableCause = "database" | "overloaded";

export const UNAVAILABLE_DESCRIPTIONS: Record<UnavailableCause, string> = {
  database: "the authorization server cannot reach its database; retry shortly",
  overloaded: "the authorization server is at capacity; retry shortly",
};

/**
 * Whether `e` (or an error it wraps) means the database is unavailable: the pool's
 * DatabaseUnavailableError, a driver failure it did not see (reserved connections), or the OAuth
 * error below that carries one.
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    if (cur instanceof DatabaseUnavailableError || isDatabaseUnavailableError(cur)) return true;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return false;
}

/**
 * oidc-provider answers any error that is not one of its own with `server_error` (500): its
 * error handler exposes only OIDCProviderErrors with a status below 500. This one is exposed at
 * 503, so the token, introspection, revocation and userinfo endpoints answer
 * `temporarily_unavailable` (RFC 6749 §5.2 / §4.1.2.1), the authorization endpoint redirects it to
 * the client when it can, and our renderError shows the "try again" page otherwise.
 */
export class OidcTemporarilyUnavailable extends errors.OIDCProviderError {
  constructor(cause: unknown) {
    super(503, "temporarily_unavailable", { cause });
    this.expose = true;
    this.error_description = UNAVAILABLE_DESCRIPTIONS.database;
  }
}

/** The error oidc-provider should see for `e`: database unavailability as above, anything else unchanged. */
export function forOidcProvider(e: unknown): unknown {
  return !(e instanceof OidcTemporarilyUnavailable) && isDatabaseUnavailable(e) ? new OidcTemporarilyUnavailable(e) : e;
}

/** Runs `fn` (a callback oidc-provider calls: adapter, findAccount…) with its errors passed through forOidcProvider. */
export async function oidcCallback<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw forOidcProvider(e);
  }
}
