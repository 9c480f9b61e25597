import { newPublicId, openSecret, sealSecret, SealedSecretError, type Config } from "@altalune/core";
import { isUniqueViolation, type Sql } from "@altalune/db";
import { oauthClientSecretContext } from "@altalune/oauth-tables";
import { DASHBOARD_SCOPES, redirectUriProblem, sameList } from "./model.js";

export type DashboardClientSeedConfig = Pick<Config, "dashboardClient" | "encryptionKey" | "branding">;

/** What the seed logs with; `warn` falls back to `info` for callers that pass only that. */
export interface DashboardClientSeedLogger {
  info(details: object, message: string): void;
  warn?(details: object, message: string): void;
}

export type DashboardClientSeedOutcome = "skipped" | "created" | "updated" | "unchanged";

/** The configuration cannot be applied; the message names the variable to fix. */
export class DashboardClientSeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DashboardClientSeedError";
  }
}

const MAX_REDIRECT_URIS = 10;

interface DefaultClientRow {
  id: string;
  public_id: string;
  client_id: string;
  client_secret_sealed: string | null;
  redirect_uris: string[];
}

/**
 * The default (first-party dashboard) OAuth client follows the configuration
 * (DASHBOARD_CLIENT_ID, DASHBOARD_CLIENT_SECRET, DASHBOARD_REDIRECT_URIS; generated outside
 * production): created when there is none; when there is one whose client id, secret or redirect
 * URIs differ, those are updated (the configuration is the source of truth) and the change is
 * logged, never the secret. Its name and scopes are set at creation only, so an operator's rename
 * survives. Running it again changes nothing. A changed client id revokes what the auth server
 * stored for the old one: that client no longer exists.
 */
export async function seedDashboardClient(
  sql: Sql,
  config: DashboardClientSeedConfig,
  logger: DashboardClientSeedLogger,
): Promise<DashboardClientSeedOutcome> {
  const warn = (details: object, message: string) => (logger.warn ? logger.warn(details, message) : logger.info(details, message));
  const { clientId: configuredId, clientSecret, redirectUris } = config.dashboardClient;
  if (configuredId === undefined || clientSecret === undefined) {
    warn(
      { missing: [...(configuredId === undefined ? ["DASHBOARD_CLIENT_ID"] : []), ...(clientSecret === undefined ? ["DASHBOARD_CLIENT_SECRET"] : [])] },
      "the default dashboard OAuth client is not seeded: set DASHBOARD_CLIENT_ID and DASHBOARD_CLIENT_SECRET",
    );
    return "skipped";
  }
  const key = config.encryptionKey;
  if (key === undefined) {
    warn({}, "the default dashboard OAuth client is not seeded: ENCRYPTION_KEY is not set, so its secret cannot be sealed");
    return "skipped";
  }
  if (redirectUris.length === 0) {
    warn({}, "the default dashboard OAuth client is not seeded: DASHBOARD_REDIRECT_URIS is empty");
    return "skipped";
  }
  checkConfiguredRedirectUris(redirectUris);
  // PostgreSQL returns UUIDs in lower case; the secret's context must be the one the auth server
  // rebuilds from the stored value.
  const clientId = configuredId.toLowerCase();

  try {
    return await sql.begin(async (tx) => {
      const [current] = await tx<DefaultClientRow[]>`
        select id, public_id, client_id::text, client_secret_sealed, redirect_uris
        from altalune_oauth_clients where is_default for update`;
      if (current === undefined) {
        const [created] = await tx<{ public_id: string }[]>`
          insert into altalune_oauth_clients
            (public_id, name, client_id, client_secret_sealed, redirect_uris, allowed_scopes,
             pkce_required, is_default, confidential)
          values (${newPublicId()}, ${config.branding.dashboardName}, ${clientId},
                  ${sealSecret(key, clientSecret, oauthClientSecretContext(clientId))}, ${redirectUris}::text[],
                  ${[...DASHBOARD_SCOPES]}::text[], true, true, true)
          returning public_id`;
        logger.info({ id: created?.public_id, clientId }, "seeded the default dashboard OAuth client");
        return "created";
      }

      const changed: string[] = [];
      if (current.client_id !== clientId) changed.push("client_id");
      if (current.client_id !== clientId || !sealedEquals(key, current, clientSecret)) changed.push("client_secret");
      if (!sameList(current.redirect_uris, redirectUris)) changed.push("redirect_uris");
      if (changed.length === 0) return "unchanged";

      await tx`
        update altalune_oauth_clients
        set client_id = ${clientId}, client_secret_sealed = ${sealSecret(key, clientSecret, oauthClientSecretContext(clientId))},
            redirect_uris = ${redirectUris}::text[], pkce_required = true, confidential = true,
            updated_at = CURRENT_TIMESTAMP
        where id = ${current.id}`;
      let revokedRows = 0;
      if (current.client_id !== clientId) {
        revokedRows = (await tx`delete from altalune_oidc_models where client_id = ${current.client_id}`).count;
      }
      logger.info(
        {
          id: current.public_id,
          changed,
          ...(changed.includes("client_id") ? { previousClientId: current.client_id, clientId, revokedRows } : {}),
          ...(changed.includes("redirect_uris") ? { previousRedirectUris: current.redirect_uris, redirectUris } : {}),
        },
        `default dashboard OAuth client updated to match the configuration (${changed.join(", ")})`,
      );
      return "updated";
    });
  } catch (e) {
    if (isUniqueViolation(e, "ux_altalune_oauth_clients_client_id")) {
      throw new DashboardClientSeedError(
        `DASHBOARD_CLIENT_ID ${clientId} is already the client id of another OAuth client: configure another one, or delete that client`,
      );
    }
    throw e;
  }
}

function checkConfiguredRedirectUris(uris: readonly string[]): void {
  if (uris.length > MAX_REDIRECT_URIS) {
    throw new DashboardClientSeedError(`DASHBOARD_REDIRECT_URIS: at most ${MAX_REDIRECT_URIS} URIs`);
  }
  for (const uri of uris) {
    const rule = redirectUriProblem(uri);
    if (rule !== undefined) throw new DashboardClientSeedError(`DASHBOARD_REDIRECT_URIS: invalid redirect URI ${uri} (${rule})`);
  }
  if (new Set(uris).size !== uris.length) throw new DashboardClientSeedError("DASHBOARD_REDIRECT_URIS: duplicate URIs");
}

/** Whether the stored secret is `secret`; unreadable (another key, altered row) counts as different. */
function sealedEquals(key: Buffer, row: DefaultClientRow, secret: string): boolean {
  if (row.client_secret_sealed === null) return false;
  try {
    return openSecret(key, row.client_secret_sealed, oauthClientSecretContext(row.client_id)) === secret;
  } catch (e) {
    if (e instanceof SealedSecretError) return false;
    throw e;
  }
}

