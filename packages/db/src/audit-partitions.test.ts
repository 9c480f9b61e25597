import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { advisoryXactLock } from "./advisory-lock.js";
import { AUDIT_MAINTENANCE_LOCK, auditPartitions, ensureAuditPartitions, runAuditMaintenance } from "./audit-partitions.js";
import { writeAuditEvent } from "./audit-writer.js";
import { createTestDatabase, type TestDatabase } from "./testing.js";

// Retention of the audit log on real partitions: months ahead are created, months past
// AUDIT_RETENTION_DAYS are dropped whole (DROP TABLE, not DELETE), and one replica does it at a time.

let db: TestDatabase;
/** The months migration 0019 made in the template (around the real date, long before `now`). */
let fromMigration: string[];
/** A fixed "now" (mid-month), far from the real one, so the template's own partitions are not involved. */
const now = new Date("2031-06-15T12:00:00Z");
const month = (iso: string) => new Date(`${iso}-01T00:00:00Z`);

beforeAll(async () => {
  db = await createTestDatabase();
  fromMigration = (await auditPartitions(db.sql)).map((p) => p.name);
});

afterAll(async () => {
  await db?.drop();
});

async function countIn(name: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from ${db.sql(name)}`;
  return row!.n;
}

describe("audit log partitions", () => {
  it("creates the months up to three ahead, once", async () => {
    const created = await db.sql.begin((tx) => ensureAuditPartitions(tx, { now, from: month("2030-04") }));
    expect(created[0]).toBe("altalune_audit_events_203004");
    expect(created.at(-1)).toBe("altalune_audit_events_203109");
    expect(created).toHaveLength(18);
    expect(await db.sql.begin((tx) => ensureAuditPartitions(tx, { now, from: month("2030-04") }))).toEqual([]);
    const bounds = await db.sql<{ bound: string }[]>`
      select pg_get_expr(c.relpartbound, c.oid) as bound from pg_class c where c.relname = 'altalune_audit_events_203004'`;
    expect(bounds[0]?.bound).toBe("FOR VALUES FROM ('2030-04-01 00:00:00+00') TO ('2030-05-01 00:00:00+00')");
  });

  it("drops whole months older than the retention, keeps the rest, row for row", async () => {
    const write = (at: string, action: string) => writeAuditEvent(db.sql, { actorType: "system", action, result: "ok", occurredAt: new Date(at) });
    await write("2030-04-10T00:00:00Z", "old.april");
    await write("2030-05-31T23:59:59Z", "old.may");
    // 2030-06-14 is just over 365 days before `now`, but its month is not over by then: kept.
    await write("2030-06-14T00:00:00Z", "kept.june");
    await write("2031-06-01T00:00:00Z", "kept.now");
    expect(await countIn("altalune_audit_events_203004")).toBe(1);

    const result = await runAuditMaintenance(db.sql, { retentionDays: 365, now });
    expect(fromMigration.length).toBeGreaterThanOrEqual(4);
    expect(result).toEqual({ created: [], dropped: [...fromMigration, "altalune_audit_events_203004", "altalune_audit_events_203005"], failed: [], skipped: false });
    const names = (await auditPartitions(db.sql)).map((p) => p.name);
    expect(names).not.toContain("altalune_audit_events_203005");
    expect(names).toContain("altalune_audit_events_203006");
    expect(names).toContain("altalune_audit_events_203109");
    const left = await db.sql<{ action: string }[]>`
      select action from altalune_audit_events where occurred_at >= '2030-01-01' and occurred_at < '2032-01-01' order by occurred_at`;
    expect(left.map((r) => r.action)).toEqual(["kept.june", "kept.now"]);
    // A month later, June goes too.
    const july = await runAuditMaintenance(db.sql, { retentionDays: 365, now: new Date("2031-07-02T00:00:00Z") });
    expect(july.dropped).toEqual(["altalune_audit_events_203006"]);
    expect(july.created).toEqual(["altalune_audit_events_203110"]);
  });

  it("does nothing while another replica holds the lock", async () => {
    const reserved = await db.sql.reserve();
    try {
      await reserved`begin`;
      await advisoryXactLock(reserved, AUDIT_MAINTENANCE_LOCK);
      const result = await runAuditMaintenance(db.sql, { retentionDays: 1, now: new Date("2032-06-15T00:00:00Z") });
      expect(result).toEqual({ created: [], dropped: [], failed: [], skipped: true });
      await reserved`rollback`;
    } finally {
      reserved.release();
    }
    expect((await auditPartitions(db.sql)).map((p) => p.name)).toContain("altalune_audit_events_203106");
  });

  it("a month that cannot be dropped is reported and retried; the months ahead are created all the same", async () => {
    const later = new Date("2033-03-15T00:00:00Z");
    await runAuditMaintenance(db.sql, { retentionDays: 365, now: new Date("2032-06-15T00:00:00Z") });
    const oldest = (await auditPartitions(db.sql))[0]!.name;
    // An operator's view on an old month: its DROP fails until the view goes.
    await db.sql.unsafe(`create view audit_report as select count(*) from ${oldest}`);
    try {
      const result = await runAuditMaintenance(db.sql, { retentionDays: 365, now: later });
      expect(result.failed.map((f) => f.name)).toEqual([oldest]);
      expect(result.failed[0]!.error).toMatch(/depend/);
      expect(result.created).toContain("altalune_audit_events_203306");
      await writeAuditEvent(db.sql, { actorType: "system", action: "still.written", result: "ok", occurredAt: later });
    } finally {
      await db.sql.unsafe("drop view audit_report");
    }
    expect((await runAuditMaintenance(db.sql, { retentionDays: 365, now: later })).dropped).toEqual([oldest]);
  });

  it("creating a month does not hold up audited writes behind an open transaction on the table", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // A transaction that wrote an audit row and stays open (a slow mutation).
    const open = db.sql.begin(async (tx) => {
      await writeAuditEvent(tx, { actorType: "system", action: "slow", result: "ok", occurredAt: new Date("2033-03-15T00:00:00Z") });
      await held;
    });
    try {
      await new Promise((r) => setTimeout(r, 100));
      // Months far ahead are missing: the run creates them while the transaction above is open.
      const maintenance = runAuditMaintenance(db.sql, { retentionDays: 3650, now: new Date("2033-09-15T00:00:00Z"), lockTimeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 100));
      // A second write meanwhile: not queued behind the maintenance's lock request.
      const started = performance.now();
      await writeAuditEvent(db.sql, { actorType: "system", action: "unrelated", result: "ok", occurredAt: new Date("2033-03-16T00:00:00Z") });
      const waitedMs = performance.now() - started;
      const result = await maintenance;
      expect(result.created).toContain("altalune_audit_events_203312");
      // Queued behind an ACCESS EXCLUSIVE request, the write would wait for the open transaction (seconds).
      expect(waitedMs).toBeLessThan(1000);
    } finally {
      release();
      await open;
    }
  });
});
