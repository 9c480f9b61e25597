import type { Sql } from "@altalune/db";
import { ClientStateCache, type ClientGrants } from "./client-state.js";
import { authUnavailable } from "./errors.js";

interface Entry {
  active: boolean;
  checkedAt: number;
}

export interface UserStateOptions {
  /** How long an answer is trusted: the bound on how long a deactivated user's token keeps working. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
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
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
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
    this.ttlMs = opts.ttlMs ?? USER_STATE_TTL_MS;
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.now = opts.now ?? Date.now;
    this.onLookup = opts.onLookup;
    this.clients = new ClientStateCache(sql, { ttlMs: this.ttlMs, now: this.now });
  }

  /** What the machine client holds now (scopes, projects), or undefined when it is gone. */
  clientGrants(clientId: string): Promise<ClientGrants | undefined> {
    return this.clients.grantsOf(clientId);
  }

  forgetClient(clientId: string): void {
    this.clients.forget(clientId);
  }

  async isActive(userPublicId: string): Promise<boolean> {
    const entry = this.entries.get(userPublicId);
    const hit = entry !== undefined && this.now() - entry.checkedAt < this.ttlMs;
    this.onLookup?.(hit);
    if (hit) return entry.active;
    let pending = this.inFlight.get(userPublicId);
    if (pending === undefined) {
      pending = this.load(userPublicId).finally(() => this.inFlight.delete(userPublicId));
      this.inFlight.set(userPublicId, pending);
    }
    return pending;
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
    const active = rows[0]?.is_active === true;
    this.entries.delete(userPublicId);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(userPublicId, { active, checkedAt: this.now() });
    return active;
  }
}
