import { describe, expect, it } from "vitest";
import { BoundedCache } from "./bounded-cache.js";

function manualClock(start = "2030-01-01T00:00:00Z") {
  let now = new Date(start).getTime();
  return { clock: () => new Date(now), advance: (ms: number) => void (now += ms) };
}

describe("BoundedCache", () => {
  it("serves an entry while its age is below the TTL, not once it reaches it", () => {
    const t = manualClock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1_000, clock: t.clock });
    cache.set("a", 1);
    t.advance(999);
    expect(cache.get("a")).toEqual({ value: 1 });
    t.advance(1);
    expect(cache.get("a")).toBeUndefined();
  });

  it("serves an entry with an `until` while the clock is before it; one already past is not stored", () => {
    const t = manualClock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, clock: t.clock });
    cache.set("a", 1, new Date(t.clock().getTime() + 50));
    cache.set("b", 2, t.clock());
    expect(cache.get("b")).toBeUndefined();
    t.advance(49);
    expect(cache.get("a")?.value).toBe(1);
    t.advance(1);
    expect(cache.get("a")).toBeUndefined();
  });

  it("a TTL of 1 ms serves within the same millisecond only", () => {
    const t = manualClock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1, clock: t.clock });
    cache.set("a", 1);
    expect(cache.get("a")?.value).toBe(1);
    t.advance(1);
    expect(cache.get("a")).toBeUndefined();
  });

  it("remembers undefined answers", () => {
    const cache = new BoundedCache<string, number | undefined>({ maxEntries: 10, ttlMs: 1_000 });
    cache.set("gone", undefined);
    expect(cache.get("gone")).toEqual({ value: undefined });
  });

  it("drops the entry stored longest ago when full; reading does not renew it", () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 2 });
    cache.set("a", 1);
    cache.set("b", 2);
    cache.get("a");
    cache.set("c", 3);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("b")?.value).toBe(2);
    cache.set("b", 20);
    cache.set("d", 4);
    expect(cache.get("c")).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it("purgeStale drops expired entries only", () => {
    const t = manualClock();
    const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 100, clock: t.clock });
    cache.set("old", 1);
    t.advance(100);
    cache.set("new", 2);
    cache.purgeStale();
    expect(cache.size).toBe(1);
    expect(cache.get("new")?.value).toBe(2);
  });

  it("concurrent fills of one key share one load; a failed load stores nothing", async () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1_000 });
    let loads = 0;
    const load = async () => ++loads;
    const [x, y] = await Promise.all([cache.fill("k", load), cache.fill("k", load)]);
    expect([x, y, loads]).toEqual([1, 1, 1]);
    expect(cache.get("k")?.value).toBe(1);
    await expect(cache.fill("e", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(cache.get("e")).toBeUndefined();
    expect(await cache.fill("e", load)).toBe(2);
  });
});
