import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@altalune/core";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { RateLimiter } from "../rate-limit/rate-limiter.js";
import { ANONYMOUS_EVENTS_PER_ADDRESS, SecurityAudit } from "./security-audit.js";

// The per-address budget of anonymous events no other limit bounds, on the real writer and the
// real rate limiter: past it those events are not written; bounded ones are written all the same.

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ max: 4 });
});

afterAll(async () => {
  await db?.drop();
});

const origin = (ip: string) => ({ ip, get: (field: string) => (field === "user-agent" ? "budget-test" : "") });

async function count(action: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from altalune_audit_events where action = ${action}`;
  return row!.n;
}

describe("SecurityAudit's budget of anonymous events", () => {
  it("writes an address's unbounded anonymous events up to the budget, and the bounded ones always", async () => {
    const audit = new SecurityAudit(db.sql, createLogger({ level: "silent" }), new RateLimiter(db.sql));
    const { limit } = ANONYMOUS_EVENTS_PER_ADDRESS;
    const failed = { action: "auth.login.failed", actorType: "anonymous", result: "upstream_error" } as const;
    for (let i = 0; i < limit + 5; i++) await audit.record(origin("198.51.100.7"), failed, { unbounded: true });
    expect(await count("auth.login.failed")).toBe(limit);
    // Another address has its own budget; a bounded event (a wrong code that used an attempt) is not held back.
    await audit.record(origin("198.51.100.8"), failed, { unbounded: true });
    await audit.record(origin("198.51.100.7"), { action: "auth.login_code.sent", actorType: "anonymous", targetType: "user", targetId: "u1" });
    expect(await count("auth.login.failed")).toBe(limit + 1);
    expect(await count("auth.login_code.sent")).toBe(1);
  });
});
