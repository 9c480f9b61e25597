-- Rate limits (apps/auth/src/rate-limit/rate-limiter.ts) counted by one function, in O(1) per hit
-- whatever the limit.
--
-- Until now a (bucket, key) row held one timestamp per allowed hit still inside the window: exact,
-- but a limit of N per window meant arrays of up to N entries, unnested, sorted and rewritten
-- several times by every hit. At TOKEN_RATE_LIMIT_PER_MINUTE=100000 and 150 tokens/s from one
-- address that was ~9,000 entries per hit, and each token request took 45 ms at first and 250 ms
-- a minute later (bench/overload.ts --target auth).
--
-- Now each entry is (time of its first hit, count): a limit of at most 64 keeps one entry per hit
-- (exact, as before); a larger one merges the hits of each 1/64 of the window into one entry, so
-- a row never holds more than 65 entries. An entry counts as inside the window while the last
-- instant its hits may have happened still is, so merging can refuse up to 1/64 of a window early
-- but never lets more than `limit` hits through in any span of `window` seconds.
--
-- altalune_rate_limit_hits counts a list of limits in order in one statement, as `hitInOrder`
-- documents: limit i+1 is counted only when limit i allowed the hit; the answer stops at the first
-- refusal. Each row is locked (FOR UPDATE) for the rest of the statement's transaction, in the order
-- given, so concurrent hits on one key are counted one after the other.
-- migrate:up
-- NULL: a row written before this migration, one hit per entry.
ALTER TABLE altalune_rate_limits ADD COLUMN counts INTEGER[];

CREATE FUNCTION altalune_rate_limit_hits(
  p_buckets VARCHAR[], p_key_hashes VARCHAR[], p_limits INTEGER[], p_windows INTEGER[], p_now TIMESTAMPTZ
) RETURNS TABLE (step INTEGER, allowed BOOLEAN, retry_after INTEGER)
LANGUAGE plpgsql AS $$
DECLARE
  win INTERVAL;
  slot INTERVAL;
  hs TIMESTAMPTZ[];
  cs INTEGER[];
  total INTEGER;
  n INTEGER;
  leaving INTEGER;
  k INTEGER;
BEGIN
  FOR i IN 1 .. cardinality(p_buckets) LOOP
    win := make_interval(secs => p_windows[i]);
    slot := CASE WHEN p_limits[i] <= 64 THEN INTERVAL '0' ELSE win / 64 END;
    LOOP
      -- A concurrent first hit on the same key makes this wait for it, then the SELECT sees its row.
      INSERT INTO altalune_rate_limits AS r (bucket, key_hash, hits, counts, allowed, expires_at)
        VALUES (p_buckets[i], p_key_hashes[i], '{}', '{}', true, p_now)
        ON CONFLICT (bucket, key_hash) DO NOTHING;
      SELECT r.hits, coalesce(r.counts, array_fill(1, ARRAY[cardinality(r.hits)])) INTO hs, cs
        FROM altalune_rate_limits r
        WHERE r.bucket = p_buckets[i] AND r.key_hash = p_key_hashes[i]
        FOR UPDATE;
      EXIT WHEN FOUND; -- else purged in between: insert again
    END LOOP;
    SELECT coalesce(array_agg(e.h ORDER BY e.h), '{}'), coalesce(array_agg(e.c ORDER BY e.h), '{}')
      INTO hs, cs
      FROM unnest(hs, cs) AS e(h, c)
      WHERE e.h + slot > p_now - win;
    total := coalesce((SELECT sum(c) FROM unnest(cs) AS c), 0);
    n := cardinality(hs);
    IF total < p_limits[i] THEN
      IF n > 0 AND slot > INTERVAL '0' AND p_now < hs[n] + slot THEN
        cs[n] := cs[n] + 1;
      ELSE
        hs := hs || p_now;
        cs := cs || 1;
      END IF;
      UPDATE altalune_rate_limits r SET hits = hs, counts = cs, allowed = true, expires_at = p_now + win
        WHERE r.bucket = p_buckets[i] AND r.key_hash = p_key_hashes[i];
      step := i - 1; allowed := true; retry_after := 0;
      RETURN NEXT;
    ELSE
      -- The next hit is allowed once enough of the oldest entries have left the window.
      leaving := 0;
      k := 0;
      WHILE total - leaving >= p_limits[i] LOOP
        k := k + 1;
        leaving := leaving + cs[k];
      END LOOP;
      UPDATE altalune_rate_limits r SET hits = hs, counts = cs, allowed = false
        WHERE r.bucket = p_buckets[i] AND r.key_hash = p_key_hashes[i];
      step := i - 1; allowed := false;
      retry_after := greatest(1, ceil(extract(epoch FROM (hs[k] + slot + win - p_now)))::int);
      RETURN NEXT;
      RETURN;
    END IF;
  END LOOP;
END
$$;

-- migrate:down
DROP FUNCTION altalune_rate_limit_hits(VARCHAR[], VARCHAR[], INTEGER[], INTEGER[], TIMESTAMPTZ);
ALTER TABLE altalune_rate_limits DROP COLUMN counts;
