import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Sql } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { EmployeeService, EmployeeStatus, ProjectService } from "@altalune/proto";
import { createGrpcJsClient } from "@altalune/rpc";
import { startPgBouncer, type PgBouncer } from "../../../../packages/db/src/testing-pgbouncer.js";
import { freePort } from "@altalune/test-kit";
import { dataDir, READY, runCli, startServerProcess, type ServerProcess } from "../testing/cli-process.js";
import { detailOf } from "../testing/errors.js";

// The apps through a real PgBouncer in transaction pooling mode (Debian's 1.18): DATABASE_URL is
// the bouncer with DATABASE_PREPARE=false, migrations take the direct MIGRATION_DATABASE_URL.
// A missing pgbouncer binary fails here with the install hint; it never skips.

describe("through PgBouncer (pool_mode=transaction)", () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  let data: Awaited<ReturnType<typeof dataDir>>;
  let env: Record<string, string>;
  let app: ServerProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    // Fewer server connections than the app's pool: transactions of different clients share them.
    bouncer = await startPgBouncer(db.url, { poolSize: 3 });
    data = await dataDir();
    const authPort = await freePort();
    env = {
      DATABASE_URL: bouncer.urlFor(db.url),
      DATABASE_PREPARE: "false",
      DATA_DIR: data.path,
      AUTH_PORT: String(authPort),
      AUTH_ISSUER: `http://127.0.0.1:${authPort}`,
    };
  });

  afterAll(async () => {
    await app?.stop();
    await bouncer?.close();
    await db?.drop();
    await data?.remove();
  });

  it("migrate over MIGRATION_DATABASE_URL, seed twice at once through the bouncer, serve both apps through it", async () => {
    const migrated = await runCli(["migrate", "up", "--skip-seed"], { ...env, MIGRATION_DATABASE_URL: db.url });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect((await db.sql`select 1 from altalune_migrations`).length).toBeGreaterThan(0);

    // The seed's lock is transaction-scoped, so it serialises through transaction pooling too:
    // two at once both succeed and leave one default project and no advisory lock behind.
    const seeds = await Promise.all([runCli(["seed"], env), runCli(["seed"], env)]);
    for (const s of seeds) expect(s.code, s.stderr).toBe(0);
    expect(await db.sql`select 1 from altalune_projects where is_default`).toHaveLength(1);
    expect(await db.sql`select 1 from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`).toEqual([]);

    app = await startServerProcess(["dev"], { ...env, MIGRATION_DATABASE_URL: db.url }, [READY.resources, READY.grpc, READY.auth]);
    const [baseUrl = "", grpcAddress = ""] = app.found;
    const issued = await runCli(["token", "issue", "--email", "admin@altalune.local", "--ttl", "10m"], env);
    expect(issued.code, issued.stderr).toBe(0);
    const headers = { authorization: `Bearer ${issued.stdout.trim()}` };
    const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [(next) => (req) => {
      for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
      return next(req);
    }] });
    const projects = createClient(ProjectService, transport);
    const employees = createClient(EmployeeService, transport);

    // Writes in transactions (a project and its partition), then reads, concurrently so that
    // statements of one client meet several server connections.
    const created = await Promise.all(
      Array.from({ length: 6 }, (_, i) => projects.createProject({ name: `Bounced ${i}`, timezone: "UTC", environment: "sandbox" })),
    );
    const ids = created.map((c) => c.project!.id);
    const read = await Promise.all(ids.map((id) => projects.getProject({ id })));
    expect(read.map((r) => r.project?.name)).toEqual(ids.map((_, i) => `Bounced ${i}`));
    await Promise.all(
      ids.map((projectId, i) =>
        employees.createEmployee({ projectId, name: "Pooled Writer", email: `pooled-${i}@bouncer.test`, role: "Engineer", department: "Ops", status: EmployeeStatus.ACTIVE }),
      ),
    );
    const listed = await employees.queryEmployees({ projectId: ids[0]!, query: { pagination: { page: 1, pageSize: 10 } } });
    expect(listed.data.map((e) => e.email)).toEqual(["pooled-0@bouncer.test"]);

    // The native gRPC port, same pool.
    const grpc = createGrpcJsClient(ProjectService, grpcAddress, headers);
    try {
      expect((await grpc.client.getProject({ id: ids[1]! })).project?.name).toBe("Bounced 1");
    } finally {
      grpc.close();
    }

    // The auth server's storage went through the bouncer too: discovery and keys are served.
    const jwks = (await (await fetch(`${env["AUTH_ISSUER"]}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(jwks.keys.length).toBeGreaterThan(0);

    // And the traffic really went through the bouncer: without it the API answers Unavailable.
    await bouncer.close();
    const error = await projects.getProject({ id: ids[2]! }, { timeoutMs: 5000 }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect({ code: error?.code, detail: error && detailOf(error)?.code }).toEqual({ code: Code.Unavailable, detail: "60014" });
  }, 60_000);

  it("a pool with prepared statements cannot even connect through it (why DATABASE_PREPARE=false is needed)", async () => {
    const other = await startPgBouncer(db.url, { poolSize: 2 });
    let sql: Sql | undefined;
    try {
      // prepare: true sends plan_cache_mode, a startup parameter PgBouncer does not forward.
      sql = createPool(other.urlFor(db.url), { max: 1, connectTimeoutSeconds: 3 });
      const refused = await sql`select 1`.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(Error);
      expect(String((refused as Error).cause)).toMatch(/unsupported startup parameter: plan_cache_mode/);
      await sql.end({ timeout: 1 });
      sql = createPool(other.urlFor(db.url), { max: 1, prepare: false });
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await sql?.end({ timeout: 1 });
      await other.close();
    }
  });
});
