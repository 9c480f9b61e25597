import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";

// The `altalune` command as a user runs it: a real process, a real database, real signals.
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const databases: TestDatabase[] = [];
const MIGRATIONS = readdirSync(fileURLToPath(new URL("../../../migrations/", import.meta.url)))
  .filter((f) => f.endsWith(".sql"))
  .map((f) => f.slice(0, -".sql".length))
  .sort();

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty: true });
  databases.push(db);
  return db;
}

function altalune(args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    env: { ...process.env, LOG_LEVEL: "warn", RESOURCES_PORT: "0", GRPC_PORT: "0", ...env },
  });
}

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = altalune(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("altalune CLI", () => {
  it("dev: migrates, seeds, serves, and shuts down cleanly on SIGTERM", async () => {
    const db = await emptyDatabase();
    const child = altalune(["dev"], { DATABASE_URL: db.url });
    let stdout = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const baseUrl = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = /Resources API \(Connect, gRPC-Web, gRPC\): (http:\/\/\S+)/.exec(stdout);
        if (m?.[1]) resolve(m[1]);
      });
      child.once("close", () => reject(new Error(`exited before ready:\n${stdout}`)));
    });
    expect(stdout).toMatch(/Native gRPC \(reflection, health\): +127\.0\.0\.1:\d+/);

    const res = await fetch(`${baseUrl}/altalune.v1.ProjectService/QueryProjects`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: { pagination: { page: 1, pageSize: 10 } } }),
    });
    const body = (await res.json()) as { data: Array<{ name: string; isDefault: boolean }> };
    expect(body.data).toEqual([expect.objectContaining({ name: "Default Project", isDefault: true })]);
    const ready = await fetch(baseUrl.replace(/\/api$/, "/readyz"));
    expect(ready.status).toBe(200);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("migrate up twice at once applies each migration once and seeds one default project", async () => {
    const db = await emptyDatabase();
    const results = await Promise.all([run(["migrate", "up"], { DATABASE_URL: db.url }), run(["migrate", "up"], { DATABASE_URL: db.url })]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const applied = await db.sql<{ version: string }[]>`select version from altalune_migrations order by version`;
    expect(applied.map((r) => r.version)).toEqual(MIGRATIONS);
    const defaults = await db.sql`select 1 from altalune_projects where is_default`;
    expect(defaults).toHaveLength(1);
  });

  it("migrate down then up round-trips the real migrations", async () => {
    const db = await emptyDatabase();
    const env = { DATABASE_URL: db.url };
    expect((await run(["migrate", "up", "--skip-seed"], env)).code).toBe(0);
    const down = await run(["migrate", "down", "--steps", String(MIGRATIONS.length)], env);
    expect(down.code, down.stderr).toBe(0);
    const [gone] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_class where relname in ('altalune_projects', 'altalune_example_employees')`;
    expect(gone?.n).toBe(0);
    const [leftover] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relname like 'altalune\\_%' and c.relname not like 'altalune\\_migrations%'`;
    expect(leftover?.n).toBe(0);
    const status = await run(["migrate", "status"], env);
    expect(status.stdout).toMatch(/0001_projects\s+pending/);
    expect((await run(["migrate", "up"], env)).code).toBe(0);
    const after = await run(["migrate", "status"], env);
    expect(after.stdout).toMatch(/0001_projects\s+applied/);
    for (const version of MIGRATIONS) expect(after.stdout).toMatch(new RegExp(`${version}\\s+applied`));
    // The seed ran and its project got its partition after the round trip.
    const parts = await db.sql`
      select 1 from altalune_projects p join pg_class c on c.relname = 'altalune_example_employees_p' || p.id where p.is_default`;
    expect(parts).toHaveLength(1);
  });

  it("reports every invalid variable by name and exits non-zero", async () => {
    const r = await run(["serve"], { RESOURCES_PORT: "not-a-port", LOG_LEVEL: "loud", DATABASE_URL: "mysql://x" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RESOURCES_PORT/);
    expect(r.stderr).toMatch(/LOG_LEVEL/);
    expect(r.stderr).toMatch(/DATABASE_URL/);
  });

  it("refuses to run without DATABASE_URL in production", async () => {
    const env: Record<string, string> = { NODE_ENV: "production" };
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "serve"], {
      env: Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([k]) => k !== "DATABASE_URL")) as Record<string, string>,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/DATABASE_URL: required in production/);
  });
});
