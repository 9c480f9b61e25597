import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Sql } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { ConfigService, EmployeeService, EmployeeStatus, ProjectService } from "@altalune/proto";
import { startTestApi, type TestApi } from "../testing/api-harness.js";
import { detailOf } from "../testing/errors.js";
import { grpcHealthStatus } from "../testing/grpc-health.js";
import { startRestartablePostgres } from "../testing/restartable-postgres.js";
import { startProxiedApi, type ProxiedApi } from "../testing/proxied-api.js";
import type { TcpProxy } from "../testing/tcp-proxy.js";

// Database faults under a small steady load: the Resources API reaches its own test database
// through a TCP proxy this file controls (refuse, cut, black hole, delay). Only this file's
// connections pass through it; the shared test server is never touched.

interface Outcome {
  kind: "read" | "write";
  sentAt: number;
  ms: number;
  code: Code | "ok";
  detail: string | undefined;
  email?: string;
}

let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 2 readers and 1 writer over Connect JSON until stop() is called. */
function startLoad(api: TestApi, projectId: string, employeeProjectId: string) {
  const projects = api.client(ProjectService, "connect-json");
  const employees = api.client(EmployeeService, "connect-json");
  const outcomes: Outcome[] = [];
  let running = true;
  const timed = async (kind: Outcome["kind"], call: () => Promise<unknown>, email?: string) => {
    const sentAt = performance.now();
    let code: Outcome["code"] = "ok";
    let detail: string | undefined;
    try {
      await call();
    } catch (e) {
      const err = ConnectError.from(e);
      code = err.code;
      detail = detailOf(err)?.code;
    }
    outcomes.push({ kind, sentAt, ms: performance.now() - sentAt, code, detail, ...(email ? { email } : {}) });
    if (code !== "ok") await sleep(20);
  };
  const reader = async () => {
    while (running) await timed("read", () => projects.getProject({ id: projectId }, { timeoutMs: 8000 }));
  };
  const writer = async () => {
    while (running) {
      const email = `fault-${seq++}@outage.test`;
      await timed(
        "write",
        () =>
          employees.createEmployee(
            { projectId: employeeProjectId, name: "Fault Writer", email, role: "Engineer", department: "Faults", status: EmployeeStatus.ACTIVE },
            { timeoutMs: 8000 },
          ),
        email,
      );
    }
  };
  const done = Promise.all([reader(), reader(), writer()]);
  return {
    outcomes,
    async stop() {
      running = false;
      await done;
    },
  };
}

async function waitFor(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await check().catch(() => false)) return performance.now() - started;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

async function readyStatus(api: TestApi): Promise<number> {
  return (await fetch(api.baseUrl.replace(/\/api$/, "/readyz"))).status;
}

/** Every acknowledged write is stored exactly once. */
async function expectAcknowledgedWritesOnce(sql: Sql, outcomes: Outcome[]): Promise<void> {
  const acknowledged = outcomes.filter((o) => o.kind === "write" && o.code === "ok").map((o) => o.email!);
  const rows = await sql<{ email: string; n: number }[]>`
    select email, count(*)::int as n from altalune_example_employees where email like '%@outage.test' group by email`;
  const stored = new Map(rows.map((r) => [r.email, r.n]));
  expect(acknowledged.filter((e) => stored.get(e) !== 1)).toEqual([]);
  expect(rows.filter((r) => r.n !== 1)).toEqual([]);
}

describe("database outage through a proxy", () => {
  let proxied: ProxiedApi;
  let db: TestDatabase;
  let proxy: TcpProxy;
  let api: TestApi;
  let projectId: string;

  beforeAll(async () => {
    proxied = await startProxiedApi({ DB_UNAVAILABLE_TIMEOUT_MS: "1000" }, { max: 5, queueTimeoutMs: 1000 });
    ({ db, proxy, api } = proxied);
    projectId = (await api.client(ProjectService, "connect-json").createProject({ name: "Faults", timezone: "UTC", environment: "sandbox" })).project!.id;
  });

  afterAll(async () => {
    await proxied?.close();
  });

  it("refused and cut connections: Unavailable 60014 within the bound, readiness 503, public config served; recovers; no acknowledged write lost", async () => {
    const load = startLoad(api, projectId, projectId);
    await sleep(500);
    // Serving before the outage (asked after it began, a probe already run could say otherwise).
    expect(await grpcHealthStatus(api.grpcAddress)).toBe("SERVING");
    const down = performance.now();
    await proxy.setMode("refuse");
    proxy.cut();
    // Readiness turns 503 within a second (generous margin: 3 s); so does grpc.health, which load
    // balancers of the native gRPC port probe instead.
    const [readyMs, healthMs] = await Promise.all([
      waitFor("readyz 503", 3000, async () => (await readyStatus(api)) === 503),
      waitFor("grpc.health NOT_SERVING", 3000, async () => (await grpcHealthStatus(api.grpcAddress)) === "NOT_SERVING"),
    ]);
    expect(readyMs).toBeLessThan(3000);
    expect(healthMs).toBeLessThan(3000);
    // Public RPCs that need no database keep working.
    await expect(api.client(ConfigService, "connect-json", { token: null }).getPublicConfig({})).resolves.toBeDefined();
    await sleep(2000);
    await proxy.setMode("forward");
    const up = performance.now();
    await waitFor("readyz 200", 10_000, async () => (await readyStatus(api)) === 200);
    await waitFor("grpc.health SERVING", 10_000, async () => (await grpcHealthStatus(api.grpcAddress)) === "SERVING");
    await waitFor("a write succeeds again", 10_000, async () =>
      load.outcomes.some((o) => o.kind === "write" && o.code === "ok" && o.sentAt > up),
    );
    await sleep(500);
    await load.stop();

    const during = load.outcomes.filter((o) => o.sentAt >= down && o.sentAt < up);
    expect(during.length).toBeGreaterThan(5);
    const failed = load.outcomes.filter((o) => o.code !== "ok");
    expect(failed.length).toBeGreaterThan(0);
    for (const o of failed) {
      expect({ code: o.code, detail: o.detail }).toEqual({ code: Code.Unavailable, detail: "60014" });
      expect(o.ms).toBeLessThan(3000);
    }
    await expectAcknowledgedWritesOnce(db.sql, load.outcomes);
  });

  it("a black hole (connections accepted, nothing answered): calls answered Unavailable within the bound, then recover", async () => {
    const load = startLoad(api, projectId, projectId);
    await sleep(300);
    await proxy.setMode("blackhole");
    const down = performance.now();
    await waitFor("readyz 503", 3000, async () => (await readyStatus(api)) === 503);
    // Long enough that every load worker, each waiting up to the 1 s bound per call (more on a
    // loaded machine), sends at least one call inside the window checked below.
    await sleep(3000);
    const sentBeforeUp = performance.now();
    await proxy.setMode("forward");
    proxy.cut(); // the swallowed connections are dead; the pool reconnects
    const up = performance.now();
    await waitFor("a read succeeds again", 10_000, async () =>
      load.outcomes.some((o) => o.kind === "read" && o.code === "ok" && o.sentAt > up),
    );
    await load.stop();
    const during = load.outcomes.filter((o) => o.sentAt >= down + 200 && o.sentAt < sentBeforeUp - 1000);
    expect(during.length).toBeGreaterThan(0);
    for (const o of during) {
      expect({ code: o.code, detail: o.detail }).toEqual({ code: Code.Unavailable, detail: "60014" });
      expect(o.ms).toBeLessThan(3000);
    }
    for (const o of load.outcomes.filter((x) => x.code !== "ok")) expect(o.code).toBe(Code.Unavailable);
    await expectAcknowledgedWritesOnce(db.sql, load.outcomes);
  });
});

describe("database outage: a real PostgreSQL stopped and started", () => {
  it("fast shutdown for 2 s under load: Unavailable 60014 only, recovers without a restart, acknowledged writes kept once", async () => {
    const pg = await startRestartablePostgres();
    const template = await createTestDatabase();
    let api: TestApi | undefined;
    const sql = createPool(pg.url, { max: 5, queueTimeoutMs: 1000 });
    try {
      // The schema comes from this run's template: dump-free copy by migrating the private server.
      const { migrateUp, runPostMigrate } = await import("@altalune/db");
      await migrateUp(sql);
      await runPostMigrate(sql);
      api = await startTestApi({ DB_UNAVAILABLE_TIMEOUT_MS: "1000" }, { db: { ...template, name: "postgres", url: pg.url, sql, drop: async () => {} } });
      const projectId = (await api.client(ProjectService, "connect-json").createProject({ name: "Restart", timezone: "UTC", environment: "sandbox" })).project!.id;
      const load = startLoad(api, projectId, projectId);
      await sleep(400);
      await pg.stop();
      await sleep(2000);
      await pg.start();
      const up = performance.now();
      await waitFor("a write succeeds again", 10_000, async () =>
        load.outcomes.some((o) => o.kind === "write" && o.code === "ok" && o.sentAt > up),
      );
      await sleep(300);
      await load.stop();
      const failed = load.outcomes.filter((o) => o.code !== "ok");
      expect(failed.length).toBeGreaterThan(0);
      for (const o of failed) {
        expect({ code: o.code, detail: o.detail }).toEqual({ code: Code.Unavailable, detail: "60014" });
        expect(o.ms).toBeLessThan(3000);
      }
      await expectAcknowledgedWritesOnce(sql, load.outcomes);
    } finally {
      await api?.close();
      await sql.end({ timeout: 1 });
      await template.drop();
      await pg.destroy();
    }
  }, 60_000);
});
