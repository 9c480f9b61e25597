import { BoundedCache, type Clock } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { ClientStateCache, type ClientGrants } from "./client-state.js";
import { authUnavailable } from "@altalune/access-tokens";

export interface UserStateOptions {
  /** How long an answer is trusted: the bound on how long a deactivated user's token keeps working. */
  ttlMs?: number;
  maxEntries?: number;
  clock?: Clock;
  /** Told of each user lookup: true when the cached answer was used (metrics: the hit ratio). */
  onLookup?: (hit: boolean) => void;
}

export const USER_STATE_TTL_MS = 30_000;

/**
 * Access tokens live for minutes and are verified without calling the auth server, so a user
 * deactivated (or deleted) after sign-in would keep access until expiry. Each call also asks
 * whether the token's user is still active; the answer is kept for a short TTL, so the cost is one
 * indexed lookup per user per TTL, and a deactivation takes effect within that TTL on every replica.
 */
export class UserStateCache {
  /**
   * An answer is served while younger than the TTL: the bound above holds whatever the eviction
   * order, which only costs a re-read of a user whose answer was dropped.
   */
  private readonly entries: BoundedCache<string, boolean>;
  private readonly onLookup: ((hit: boolean) => void) | undefined;
  /**
   * The same check for machine clients (client-state.ts), with the same TTL. Kept behind this
   * object so the one per-call state dependency of the authorizer covers every kind of token.
   */
  private readonly clients: ClientStateCache;

  constructor(
    private readonly sql: Sql,
    opts: UserStateOptions = {},
  ) {
    const ttlMs = opts.ttlMs ?? USER_STATE_TTL_MS;
    this.entries = new BoundedCache({ ttlMs, maxEntries: opts.maxEntries ?? 50_000, clock: opts.clock });
    this.onLookup = opts.onLookup;
    this.clients = new ClientStateCache(sql, { ttlMs, clock: opts.clock });
  }

  /** What the machine client holds now (scopes, projects), or undefined when it is gone. */
  clientGrants(clientId: string): Promise<ClientGrants | undefined> {
    return this.clients.grantsOf(clientId);
  }

  forgetClient(clientId: string): void {
    this.clients.forget(clientId);
  }

  async isActive(userPublicId: string): Promise<boolean> {
    const cached = this.entries.get(userPublicId);
    this.onLookup?.(cached !== undefined);
    if (cached !== undefined) return cached.value;
    return this.entries.fill(userPublicId, () => this.load(userPublicId));
  }

  /** This process learns of a change at once (other replicas within the TTL). */
  forget(userPublicId: string): void {
    this.entries.delete(userPublicId);
  }

  private async load(userPublicId: string): Promise<boolean> {
    let rows: { is_active: boolean }[];
    try {
      rows = await this.sql<{ is_active: boolean }[]>`
        select is_active from altalune_users where public_id = ${userPublicId}`;
    } catch (e) {
      throw authUnavailable("cannot check the caller's account state", e);
    }
    return rows[0]?.is_active === true;
  }
}
