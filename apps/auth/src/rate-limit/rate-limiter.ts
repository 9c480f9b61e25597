import { sha256Hex } from "@altalune/core";
import type { Sql } from "@altalune/db";

export interface RateLimitResult {
  allowed: boolean;
  /** Seconds until the next hit would be allowed; 0 when this one was. */
  retryAfterSeconds: number;
}

/**
 * Rate limits kept in PostgreSQL, so every replica counts the same hits. Each (bucket, key) row
 * holds the times of the recent allowed hits (a sliding log, at most `limit` entries): "3 per 15
 * minutes" then holds for every 15-minute span, where fixed windows would let 6 through around a
 * window boundary. Refused hits are not recorded, so hammering does not extend the wait.
 * Keys (emails, IP addresses) are stored as SHA-256.
 */
export class RateLimiter {
  constructor(
    private readonly sql: Sql,
    private readonly clock: () => Date = () => new Date(),
    /** Told of each refused hit by its bucket (metrics); never the key. */
    private readonly onRefused?: (bucket: string) => void,
  ) {}

  async hit(bucket: string, key: string, limit: number, windowSeconds: number): Promise<RateLimitResult> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`rate limit must be a positive integer, got ${limit}`);
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) {
      throw new RangeError(`rate limit window must be a positive number of seconds, got ${windowSeconds}`);
    }
    const now = this.clock();
    const keyHash = sha256Hex(key);
    // One statement: INSERT … ON CONFLICT DO UPDATE locks the row, and every SET expression sees
    // the row as the previous hit left it, so concurrent hits are counted one after the other.
    // `recent` (repeated inline: SET cannot share a subquery) = hits still inside the window.
    const recent = this.sql`array(
      select h from unnest(rl.hits) as h
      where h > ${now}::timestamptz - make_interval(secs => ${windowSeconds}) order by h)`;
    const [row] = await this.sql<{ allowed: boolean; retry_after: number | null }[]>`
      insert into altalune_rate_limits as rl (bucket, key_hash, hits, allowed, expires_at)
      values (${bucket}, ${keyHash}, array[${now}::timestamptz], true,
              ${now}::timestamptz + make_interval(secs => ${windowSeconds}))
      on conflict (bucket, key_hash) do update set
        hits = case when cardinality(${recent}) < ${limit}
                    then ${recent} || ${now}::timestamptz else ${recent} end,
        allowed = cardinality(${recent}) < ${limit},
        expires_at = case when cardinality(${recent}) < ${limit}
                          then ${now}::timestamptz + make_interval(secs => ${windowSeconds}) else rl.expires_at end
      returning allowed,
        case when allowed then 0 else ceil(extract(epoch from (
          (select h from unnest(hits) as h order by h offset greatest(cardinality(hits) - ${limit}, 0) limit 1)
          + make_interval(secs => ${windowSeconds}) - ${now}::timestamptz)))::int end as retry_after`;
    if (!row) throw new Error("rate limit upsert returned no row");
    if (!row.allowed) this.onRefused?.(bucket);
    return { allowed: row.allowed, retryAfterSeconds: row.allowed ? 0 : Math.max(1, row.retry_after ?? windowSeconds) };
  }

  /** Deletes rows whose every hit has left its window. Returns how many. */
  async purgeExpired(): Promise<number> {
    const result = await this.sql`delete from altalune_rate_limits where expires_at <= ${this.clock()}::timestamptz`;
    return result.count;
  }
}
