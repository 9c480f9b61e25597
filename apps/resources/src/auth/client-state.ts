import type { Sql } from "@altalune/db";
import { isApiScope } from "./api-scopes.js";
import { authUnavailable } from "./errors.js";

/** What a machine client holds right now; undefined when it no longer exists or cannot use client_credentials. */
export interface ClientGrants {
  readonly scopes: ReadonlySet<string>;
  readonly projects: ReadonlySet<string>;
}

interface Entry {
  grants: ClientGrants | undefined;
  checkedAt: number;
}

export interface ClientStateOptions {
  /** How long an answer is trusted: the bound on how long a deleted or narrowed client's token keeps working. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
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
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<ClientGrants | undefined>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly sql: Sql,
    opts: ClientStateOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? CLIENT_STATE_TTL_MS;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  async grantsOf(clientId: string): Promise<ClientGrants | undefined> {
    const key = clientId.toLowerCase();
    const entry = this.entries.get(key);
    if (entry !== undefined && this.now() - entry.checkedAt < this.ttlMs) return entry.grants;
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = this.load(key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /** This process learns of a change at once (other replicas within the TTL). */
  forget(clientId: string): void {
    this.entries.delete(clientId.toLowerCase());
  }

  private async load(clientId: string): Promise<ClientGrants | undefined> {
    let grants: ClientGrants | undefined;
    // client_id is a UUID column: anything else names no client (and would fail the query).
    if (UUID.test(clientId)) {
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
      if (row !== undefined) grants = { scopes: new Set(row.allowed_scopes.filter(isApiScope)), projects: new Set(row.projects) };
    }
    this.entries.delete(clientId);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(clientId, { grants, checkedAt: this.now() });
    return grants;
  }
}
