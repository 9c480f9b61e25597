import { sha256Hex, systemClock, type Clock } from "@altalune/core";
import type { Sql } from "@altalune/db";

export interface RateLimitResult {
  allowed: boolean;
  /** Seconds until the next hit would be allowed; 0 when this one was. */
  retryAfterSeconds: number;
}

/** One limit to count a hit against: `limit` hits of (bucket, key) per `windowSeconds`. */
export interface RateLimitHit {
  bucket: string;
  key: string;
  limit: number;
  windowSeconds: number;
}

/**
 * Rate limits kept in PostgreSQL, so every replica counts the same hits. Each (bucket, key) row
 * holds the times of the recent allowed hits (a sliding log): "3 per 15 minutes" then holds for
 * every 15-minute span, where fixed windows would let 6 through around a window boundary. Limits
 * above 64 merge the hits of each 1/64 of the window into one counted entry, so a hit costs the
 * same at 3 or 100,000 per window (and may be refused up to 1/64 of a window early, never let
 * through beyond the limit). Refused hits are not recorded, so hammering does not extend the
 * wait. Keys (emails, IP addresses) are stored as SHA-256.
 */
export class RateLimiter {
  constructor(
    private readonly sql: Sql,
    private readonly clock: Clock = systemClock,
    /** Told of each refused hit by its bucket (metrics); never the key. */
    private readonly onRefused?: (bucket: string) => void,
  ) {}

  async hit(bucket: string, key: string, limit: number, windowSeconds: number): Promise<RateLimitResult> {
    const [result] = await this.hitInOrder([{ bucket, key, limit, windowSeconds }]);
    return result!;
  }

  /**
   * Several limits in one statement, counted in order as successive `hit` calls would be: each
   * is counted only when every one before it was allowed, and the answer stops at the first
   * refusal (its result is the last one returned). One round trip instead of one per limit.
   */
  async hitInOrder(hits: readonly RateLimitHit[]): Promise<RateLimitResult[]> {
    if (hits.length === 0) return [];
    for (const { limit, windowSeconds } of hits) {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`rate limit must be a positive integer, got ${limit}`);
      if (!Number.isInteger(windowSeconds) || windowSeconds < 1) {
        throw new RangeError(`rate limit window must be a positive number of seconds, got ${windowSeconds}`);
      }
    }
    const { sql } = this;
    // One statement (migrations/0020_rate_limit_slots.sql): each limit's row is locked and
    // counted in order, and a refusal leaves the later limits uncounted.
    const rows = await sql<{ step: number; allowed: boolean; retry_after: number }[]>`
      select step, allowed, retry_after from altalune_rate_limit_hits(
        ${hits.map((h) => h.bucket)}::varchar[], ${hits.map((h) => sha256Hex(h.key))}::varchar[],
        ${hits.map((h) => h.limit)}::int[], ${hits.map((h) => h.windowSeconds)}::int[], ${this.clock()}::timestamptz)`;
    if (rows[0]?.step !== 0) throw new Error("rate limit function returned no row");
    const results: RateLimitResult[] = [];
    for (const row of rows) {
      const hit = hits[row.step]!;
      if (!row.allowed) this.onRefused?.(hit.bucket);
      results.push({ allowed: row.allowed, retryAfterSeconds: row.allowed ? 0 : row.retry_after });
      if (!row.allowed) break;
    }
    return results;
  }

  /** Deletes rows whose every hit has left its window. Returns how many. */
  async purgeExpired(): Promise<number> {
    const result = await this.sql`delete from altalune_rate_limits where expires_at <= ${this.clock()}::timestamptz`;
    return result.count;
  }
}
