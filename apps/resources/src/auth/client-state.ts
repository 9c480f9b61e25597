import { BoundedCache, type Clock } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { authUnavailable } from "@altalune/access-tokens";
import { isApiScope } from "@altalune/rpc";

/** What a machine client holds right now; undefined when it no longer exists or cannot use client_credentials. */
export interface ClientGrants {
  readonly scopes: ReadonlySet<string>;
  readonly projects: ReadonlySet<string>;
}

export interface ClientStateOptions {
  /** How long an answer is trusted: the bound on how long a deleted or narrowed client's token keeps working. */
  ttlMs?: number;
  maxEntries?: number;
  clock?: Clock;
}

export const CLIENT_STATE_TTL_MS = 30_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The client_credentials counterpart of UserStateCache. A machine client's token is verified
 * without calling the auth server and carries the scopes and projects of its issuance, so a client
 * deleted, or stripped of a scope or a project, would keep them until expiry. Each call also reads
 * what the client holds now (one indexed lookup per client per TTL, answers shared by concurrent
 * calls); the authorizer refuses a token carrying anything the client no longer holds. "Deleting a
 * client revokes its tokens" thus holds at the API within the TTL on every replica.
 */
export class ClientStateCache {
  /**
   * An answer (undefined too: "no such client") is served while younger than the TTL, so a change
   * is seen within it; the bound only costs a re-read of a client whose answer was dropped.
   */
  private readonly entries: BoundedCache<string, ClientGrants | undefined>;

  constructor(
    private readonly sql: Sql,
    opts: ClientStateOptions = {},
  ) {
    this.entries = new BoundedCache({ ttlMs: opts.ttlMs ?? CLIENT_STATE_TTL_MS, maxEntries: opts.maxEntries ?? 10_000, clock: opts.clock });
  }

  async grantsOf(clientId: string): Promise<ClientGrants | undefined> {
    const key = clientId.toLowerCase();
    const cached = this.entries.get(key);
    if (cached !== undefined) return cached.value;
    return this.entries.fill(key, () => this.load(key));
  }

  /** This process learns of a change at once (other replicas within the TTL). */
  forget(clientId: string): void {
    this.entries.delete(clientId.toLowerCase());
  }

  private async load(clientId: string): Promise<ClientGrants | undefined> {
    // client_id is a UUID column: anything else names no client (and would fail the query).
    if (!UUID.test(clientId)) return undefined;
    let rows: { allowed_scopes: string[]; projects: string[] }[];
    try {
      rows = await this.sql<{ allowed_scopes: string[]; projects: string[] }[]>`
        select c.allowed_scopes,
               array(select p.public_id from altalune_oauth_client_projects cp
                     join altalune_projects p on p.id = cp.project_id
                     where cp.client_id = c.id) as projects
        from altalune_oauth_clients c
        where c.client_id = ${clientId} and c.confidential`;
    } catch (e) {
      throw authUnavailable("cannot check the calling client's state", e);
    }
    const row = rows[0];
    return row === undefined ? undefined : { scopes: new Set(row.allowed_scopes.filter(isApiScope)), projects: new Set(row.projects) };
  }
}
