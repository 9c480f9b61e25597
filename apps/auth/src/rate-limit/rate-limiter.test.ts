import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "@altalune/core";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { manualClock } from "@altalune/test-kit";
import { RateLimiter } from "./rate-limiter.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ max: 12 });
});
afterAll(async () => {
  await db?.drop();
});

describe("RateLimiter", () => {
  it("allows `limit` hits per sliding window and says when the next one will be allowed", async () => {
    const clock = manualClock();
    const rl = new RateLimiter(db.sql, clock.now);
    const hit = () => rl.hit("t1", "ada@example.com", 3, 900);
    expect(await hit()).toEqual({ allowed: true, retryAfterSeconds: 0 });
    clock.advance(60);
    expect(await hit()).toEqual({ allowed: true, retryAfterSeconds: 0 });
    clock.advance(60);
    expect(await hit()).toEqual({ allowed: true, retryAfterSeconds: 0 });
    clock.advance(60);
    // The oldest hit (t=0) leaves the window at t=900; now is t=180.
    expect(await hit()).toEqual({ allowed: false, retryAfterSeconds: 720 });
    clock.advance(719);
    expect(await hit()).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock.advance(1);
    // t=900: the first hit left, one slot free; refused hits were not recorded.
    expect(await hit()).toEqual({ allowed: true, retryAfterSeconds: 0 });
    // Next slot frees when the t=60 hit leaves at t=960.
    expect(await hit()).toEqual({ allowed: false, retryAfterSeconds: 60 });
  });

  it("has no burst at a window boundary (unlike fixed windows)", async () => {
    const clock = manualClock();
    const rl = new RateLimiter(db.sql, clock.now);
    clock.advance(899);
    for (let i = 0; i < 3; i++) expect((await rl.hit("t2", "k", 3, 900)).allowed).toBe(true);
    clock.advance(2);
    expect((await rl.hit("t2", "k", 3, 900)).allowed).toBe(false);
  });

  it("counts buckets and keys separately", async () => {
    const rl = new RateLimiter(db.sql, manualClock().now);
    expect((await rl.hit("t3a", "k1", 1, 60)).allowed).toBe(true);
    expect((await rl.hit("t3a", "k1", 1, 60)).allowed).toBe(false);
    expect((await rl.hit("t3a", "k2", 1, 60)).allowed).toBe(true);
    expect((await rl.hit("t3b", "k1", 1, 60)).allowed).toBe(true);
  });

  it("lets exactly `limit` of many parallel hits through", async () => {
    const rl = new RateLimiter(db.sql, manualClock().now);
    const results = await Promise.all(Array.from({ length: 25 }, () => rl.hit("t4", "203.0.113.7", 5, 60)));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect(results.filter((r) => !r.allowed).every((r) => r.retryAfterSeconds === 60)).toBe(true);
  });

  it("keeps a large limit's row small: hits of each 1/64 of the window share an entry, and no span of the window lets more than the limit through", async () => {
    const clock = manualClock();
    const rl = new RateLimiter(db.sql, clock.now);
    // 100 per 64 s: entries of 1 s.
    const hit = () => rl.hit("t10", "198.51.100.9", 100, 64);
    let allowed = 0;
    // 100 hits over 50 s (one every 0.5 s), then more: all of them inside one window.
    for (let i = 0; i < 130; i++) {
      if ((await hit()).allowed) allowed++;
      clock.advance(0.5);
    }
    expect(allowed).toBe(100);
    const [row] = await db.sql<{ entries: number; counted: number }[]>`
      select cardinality(hits) as entries, (select sum(c)::int from unnest(counts) as c) as counted
      from altalune_rate_limits where bucket = 't10'`;
    expect(row).toEqual({ entries: 50, counted: 100 });
    // Now t = 65 s: the first entry (hits at 0 and 0.5 s) has left the window entirely: two more.
    expect(await hit()).toEqual({ allowed: true, retryAfterSeconds: 0 });
    expect(await hit()).toEqual({ allowed: true, retryAfterSeconds: 0 });
    // The next entry (1 and 1.5 s) leaves at 66 s; merged, it is counted until its last instant.
    expect(await hit()).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // A steady stream far beyond the limit keeps at most 65 entries.
    for (let i = 0; i < 300; i++) {
      await hit();
      clock.advance(0.25);
    }
    const [after] = await db.sql<{ entries: number; counted: number }[]>`
      select cardinality(hits) as entries, (select sum(c)::int from unnest(counts) as c) as counted
      from altalune_rate_limits where bucket = 't10'`;
    expect(after!.entries).toBeLessThanOrEqual(65);
    expect(after!.counted).toBeLessThanOrEqual(100);
  });

  it("stores keys hashed", async () => {
    const rl = new RateLimiter(db.sql, manualClock().now);
    await rl.hit("t5", "grace@example.com", 3, 60);
    const rows = await db.sql<{ key_hash: string }[]>`select key_hash from altalune_rate_limits where bucket = 't5'`;
    expect(rows).toEqual([{ key_hash: sha256Hex("grace@example.com") }]);
    const dump = await db.sql<{ t: string }[]>`select string_agg(r::text, ' ') as t from altalune_rate_limits r`;
    expect(dump[0]!.t).not.toContain("grace");
  });

  it("purges rows whose hits have all left the window", async () => {
    const clock = manualClock("2031-01-01T00:00:00Z");
    const rl = new RateLimiter(db.sql, clock.now);
    await db.sql`delete from altalune_rate_limits`;
    await rl.hit("t6", "short", 3, 60);
    await rl.hit("t6", "long", 3, 3600);
    clock.advance(61);
    expect(await rl.purgeExpired()).toBe(1);
    const left = await db.sql`select 1 from altalune_rate_limits where bucket = 't6'`;
    expect(left).toHaveLength(1);
    // The purged key starts afresh.
    expect((await rl.hit("t6", "short", 1, 60)).allowed).toBe(true);
  });

  it("hitInOrder counts limits in order in one statement: a refusal leaves the later ones uncounted", async () => {
    const clock = manualClock();
    const refused: string[] = [];
    const rl = new RateLimiter(db.sql, clock.now, (bucket) => refused.push(bucket));
    const limits = [
      { bucket: "t8a", key: "ip", limit: 2, windowSeconds: 900 },
      { bucket: "t8b", key: "flow", limit: 1, windowSeconds: 900 },
      { bucket: "t8c", key: "address", limit: 5, windowSeconds: 3600 },
    ];
    const hitsOf = async (bucket: string) => {
      const [row] = await db.sql<{ n: number }[]>`select cardinality(hits) as n from altalune_rate_limits where bucket = ${bucket}`;
      return row?.n ?? 0;
    };
    const ok = { allowed: true, retryAfterSeconds: 0 };
    expect(await rl.hitInOrder(limits)).toEqual([ok, ok, ok]);
    // The second limit refuses: the first is counted, the third is not, and the answer stops there.
    clock.advance(60);
    expect(await rl.hitInOrder(limits)).toEqual([ok, { allowed: false, retryAfterSeconds: 840 }]);
    expect([await hitsOf("t8a"), await hitsOf("t8b"), await hitsOf("t8c")]).toEqual([2, 1, 1]);
    // The first refuses: nothing after it is even looked at.
    expect(await rl.hitInOrder(limits)).toEqual([{ allowed: false, retryAfterSeconds: 840 }]);
    expect([await hitsOf("t8a"), await hitsOf("t8b"), await hitsOf("t8c")]).toEqual([2, 1, 1]);
    expect(refused).toEqual(["t8b", "t8a"]);
    // A single limit answers as `hit` does.
    expect(await rl.hitInOrder([{ bucket: "t8d", key: "k", limit: 1, windowSeconds: 60 }])).toEqual([ok]);
    expect(await rl.hit("t8d", "k", 1, 60)).toEqual({ allowed: false, retryAfterSeconds: 60 });
  });

  it("hitInOrder lets exactly `limit` of many parallel requests through each limit", async () => {
    const rl = new RateLimiter(db.sql, manualClock().now);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rl.hitInOrder([
          { bucket: "t9a", key: "shared", limit: 8, windowSeconds: 60 },
          { bucket: "t9b", key: `own-${i % 2}`, limit: 3, windowSeconds: 60 },
        ]),
      ),
    );
    // 8 pass the shared limit; of those, at most 3 per second-level key pass the second.
    expect(results.filter((r) => r[0]!.allowed)).toHaveLength(8);
    expect(results.filter((r) => r.length === 2 && r[1]!.allowed).length).toBeLessThanOrEqual(6);
    const [row] = await db.sql<{ n: number }[]>`select sum(cardinality(hits))::int as n from altalune_rate_limits where bucket = 't9b'`;
    expect(row!.n).toBe(results.filter((r) => r.length === 2 && r[1]!.allowed).length);
  });

  it("refuses nonsensical limits", async () => {
    const rl = new RateLimiter(db.sql);
    await expect(rl.hit("t7", "k", 0, 60)).rejects.toThrow(RangeError);
    await expect(rl.hit("t7", "k", 1, 0)).rejects.toThrow(RangeError);
  });
});
