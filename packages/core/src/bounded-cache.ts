import { LRUCache } from "lru-cache";
import type { Clock } from "./clock.js";

export interface BoundedCacheOptions {
  /** Most entries held: storing a new key into a full cache drops the entry stored longest ago. */
  maxEntries: number;
  /** How long an entry is served after it is stored, unless set() says until when; none: until dropped. */
  ttlMs?: number;
  /** Time source of the TTLs (tests pass a manual clock); the system clock by default. */
  clock?: Clock;
}

/** A cached answer, boxed: the answer itself may be undefined (a remembered "there is none"). */
export interface Cached<V> {
  readonly value: V;
}

/**
 * The in-memory caches of verified tokens, account states and client rows: bounded in entries (so
 * probing random keys cannot grow memory), each entry served only while younger than its TTL, and
 * concurrent misses of one key answered by one load. lru-cache keeps the entries; this wrapper pins
 * the semantics the callers document:
 * - An entry is fresh while its age is below its TTL (or the clock is before its `until`); lru-cache
 *   counts one stale only once its age exceeds the TTL. Clock readings are whole milliseconds (Dates,
 *   or Date.now), so each entry is started one millisecond early to make the two the same.
 * - Reads use peek(): looking an entry up neither renews it nor moves it in the eviction order, so
 *   "the entry stored longest ago goes first", as with the Maps this replaced.
 * - Values are boxed, because lru-cache takes storing undefined for a deletion.
 * - ttlResolution 0: every staleness check reads the clock (lru-cache otherwise reuses one reading
 *   for a millisecond, which a test's manual clock would see as time standing still).
 */
export class BoundedCache<K extends {}, V> {
  readonly maxEntries: number;
  private readonly entries: LRUCache<K, Cached<V>>;
  private readonly inFlight = new Map<K, Promise<V>>();
  private readonly ttlMs: number | undefined;
  private readonly nowMs: () => number;

  constructor(opts: BoundedCacheOptions) {
    const clock = opts.clock;
    this.nowMs = clock === undefined ? Date.now : () => clock().getTime();
    this.maxEntries = opts.maxEntries;
    this.ttlMs = opts.ttlMs;
    this.entries = new LRUCache<K, Cached<V>>({ max: opts.maxEntries, ttlResolution: 0, perf: { now: this.nowMs } });
  }

  /** The entry under `key` while it is fresh. */
  get(key: K): Cached<V> | undefined {
    return this.entries.peek(key);
  }

  /** Stores `value` for the configured TTL, or until `until` (an `until` already past stores nothing). */
  set(key: K, value: V, until?: Date): void {
    const now = this.nowMs();
    const ttl = until === undefined ? this.ttlMs : until.getTime() - now;
    if (ttl === undefined) {
      this.entries.set(key, { value }, { ttl: 0 });
      return;
    }
    if (ttl <= 0) {
      this.entries.delete(key);
      return;
    }
    // Fresh while age < ttl, i.e. age <= ceil(ttl) - 1 on whole milliseconds; lru-cache keeps an
    // entry while (now - start) <= its ttl: start one millisecond early with the rounded-up ttl.
    this.entries.set(key, { value }, { ttl: Math.ceil(ttl), start: now - 1 });
  }

  /**
   * Runs `load` for `key` and stores what it resolves to, or joins the load of `key` already under
   * way (callers look with get() first). A failed load stores nothing, and the next call loads again.
   */
  fill(key: K, load: () => Promise<V>): Promise<V> {
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = load()
        .then((value) => {
          this.set(key, value);
          return value;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drops every entry past its TTL (a full cache then drops live entries only when none has expired). */
  purgeStale(): void {
    this.entries.purgeStale();
  }

  get size(): number {
    return this.entries.size;
  }
}
