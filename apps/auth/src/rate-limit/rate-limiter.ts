import { sha256Hex } from "@altalune/core";
import type { Sql, SqlFragment } from "@altalune/db";

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
    const now = this.clock();
    // Each limit is an INSERT … ON CONFLICT DO UPDATE, which locks the row, and every SET
    // expression sees the row as the previous hit left it, so concurrent hits are counted one
    // after the other. `recent` (repeated inline: SET cannot share a subquery) = hits still
    // inside the window. Limit i+1 inserts only when limit i's row says allowed (reading h<i>
    // also makes it run first), so rows are locked in the order given and a refusal stops the
    // rest uncounted, as with separate statements.
    const upsert = ({ bucket, key, limit, windowSeconds }: RateLimitHit, when: SqlFragment | undefined) => {
      const recent = sql`array(
        select h from unnest(rl.hits) as h
        where h > ${now}::timestamptz - make_interval(secs => ${windowSeconds}) order by h)`;
      const keyHash = sha256Hex(key);
      const expiresAt = sql`${now}::timestamptz + make_interval(secs => ${windowSeconds})`;
      // The first hit's row; alone, as VALUES (the statement `hit` always ran), else only `when`.
      const row =
        when === undefined
          ? sql`values (${bucket}, ${keyHash}, array[${now}::timestamptz], true, ${expiresAt})`
          : sql`select ${bucket}::varchar, ${keyHash}::varchar, array[${now}::timestamptz], true, ${expiresAt} where ${when}`;
      return sql`
        insert into altalune_rate_limits as rl (bucket, key_hash, hits, allowed, expires_at)
        ${row}
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
    };
    type Answer = { step: number; allowed: boolean; retry_after: number | null };
    let rows: Answer[];
    if (hits.length === 1) {
      rows = (await sql<Omit<Answer, "step">[]>`${upsert(hits[0]!, undefined)}`).map((r) => ({ ...r, step: 0 }));
    } else {
      const steps = hits.map((hit, i) => sql`${sql(`h${i}`)} as (${upsert(hit, i === 0 ? sql`true` : sql`(select allowed from ${sql(`h${i - 1}`)})`)})`);
      const answers = hits.map((_, i) => sql`select ${i}::int as step, allowed, retry_after from ${sql(`h${i}`)}`);
      const list = (items: SqlFragment[], separator: SqlFragment) => items.reduce((acc, item) => sql`${acc}${separator}${item}`);
      rows = await sql<Answer[]>`with ${list(steps, sql`, `)} ${list(answers, sql` union all `)} order by step`;
    }
    if (rows[0]?.step !== 0) throw new Error("rate limit upsert returned no row");
    const results: RateLimitResult[] = [];
    for (const row of rows) {
      const hit = hits[row.step]!;
      if (!row.allowed) this.onRefused?.(hit.bucket);
      results.push({ allowed: row.allowed, retryAfterSeconds: row.allowed ? 0 : Math.max(1, row.retry_after ?? hit.windowSeconds) });
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
