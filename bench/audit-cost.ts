// The cost of the audit log on write RPCs (issue 15), measured side by side in one run:
// - UpdateEmployee, whose audit row is a CTE of the UPDATE (same statement, same round trip), and
//   UpdateRole, whose row is the last statement of the change's transaction (one more round trip),
//   each against an audited server and against one with the audit step off (bench/audit-server.ts
//   --unaudited), both `startResourcesServer` in their own process on the same database;
// - the UPDATE statement itself through postgres.js, with and without its audit CTE.
// Interleaved pairs, ratio = median of the pair ratios (audited / baseline). --profile DIR also runs
// the audited server under `node --cpu-prof` for the UpdateEmployee load and reports the share of
// the audit code in its busy samples (bench/profile-share.ts).
// Run: pnpm bench:audit [--seconds 3] [--pairs 3] [--concurrency 16] [--profile DIR] [--no-publish]
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createLogger, loadConfig, newPublicId, type AuditEventRecord } from "@altalune/core";
import { auditedWrite, createPool, migrateUp, PendingAuditEvent, runPostMigrate, type Sql } from "@altalune/db";
import { EmployeeService, EmployeeStatus, RoleService } from "@altalune/proto";
import { seed } from "@altalune/resources";
import { createGrpcJsClient } from "@altalune/rpc";
import { TestIssuer } from "@altalune/resources/testing";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    pairs: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    profile: { type: "string" },
    "no-publish": { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const pairs = Number(values.pairs);
const concurrency = Number(values.concurrency);
const root = fileURLToPath(new URL("..", import.meta.url));

interface Server {
  grpc: number;
  stop(): Promise<void>;
}

async function startServer(env: Record<string, string>, unaudited: boolean, nodeArgs: string[] = []): Promise<Server> {
  const args = [...nodeArgs, "--import", "tsx", join(root, "bench/audit-server.ts"), ...(unaudited ? ["--unaudited"] : [])];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const ports = await new Promise<{ connect: number; grpc: number }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) resolve(JSON.parse(line) as { connect: number; grpc: number });
    });
    child.once("close", () => reject(new Error(`bench server exited:\n${out}`)));
  });
  return { grpc: ports.grpc, stop: () => new Promise<void>((r) => (child.once("close", () => r()), child.kill("SIGTERM"))) };
}

interface Measured {
  perSecond: number;
  meanMs: number;
}

/** `workers` closed loops for `seconds` after 1 s of warm-up; worker i calls `call(i, n)`. */
async function measure(workers: number, call: (worker: number, n: number) => Promise<unknown>): Promise<Measured> {
  const warmupEnd = Date.now() + 1000;
  let end = Number.POSITIVE_INFINITY;
  let calls = 0;
  let busyMs = 0;
  const loop = async (worker: number) => {
    for (let n = 0; ; n++) {
      const now = Date.now();
      if (end === Number.POSITIVE_INFINITY && now >= warmupEnd) end = now + seconds * 1000;
      if (now >= end) return;
      const started = performance.now();
      await call(worker, n);
      if (end !== Number.POSITIVE_INFINITY) {
        calls++;
        busyMs += performance.now() - started;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => loop(i)));
  return { perSecond: calls / seconds, meanMs: busyMs / Math.max(1, calls) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

interface Row {
  what: string;
  audited: number[];
  baseline: number[];
  unit: string;
  /** Higher is better (calls/s) or lower (ms). */
  higherIsBetter: boolean;
}

/** Per pair: audited and baseline back to back, the order alternating between pairs. */
async function pairsOf(what: string, unit: string, higherIsBetter: boolean, run: (audited: boolean) => Promise<number>): Promise<Row> {
  const row: Row = { what, audited: [], baseline: [], unit, higherIsBetter };
  for (let p = 0; p < pairs; p++) {
    for (const audited of p % 2 === 0 ? [true, false] : [false, true]) (audited ? row.audited : row.baseline).push(await run(audited));
  }
  process.stderr.write(`done: ${what}\n`);
  return row;
}

function ratioOf(row: Row): { ratios: number[]; median: number } {
  const ratios = row.audited.map((a, i) => a / (row.baseline[i] ?? Number.NaN));
  return { ratios, median: median(ratios) };
}

async function fixtures(sql: Sql, projectId: string, workers: number) {
  const ids = () => Array.from({ length: workers }, () => newPublicId());
  const stamp = Date.now();
  const employees = await sql<{ public_id: string }[]>`
    insert into altalune_example_employees (project_id, public_id, name, email, role, department, status)
    select p.id, e.id, 'Bench Person', 'bench' || e.n || '-' || ${stamp} || '@audit.bench', 'Engineer', 'Platform', 'active'
    from altalune_projects p, unnest(${ids()}::text[]) with ordinality as e(id, n) where p.public_id = ${projectId}
    returning public_id`;
  const roles = await sql<{ public_id: string }[]>`
    insert into altalune_roles (public_id, name, description)
    select r.id, 'bench_role_' || r.n || '_' || ${stamp}, '' from unnest(${ids()}::text[]) with ordinality as r(id, n)
    returning public_id`;
  return { employees: employees.map((e) => e.public_id), roles: roles.map((r) => r.public_id) };
}

async function main() {
  const db = await startBenchDatabase();
  const sql = createPool(db.url, { max: concurrency });
  await migrateUp(sql);
  await runPostMigrate(sql);
  const config = loadConfig({ LOG_LEVEL: "silent" });
  await seed(sql, createLogger({ level: "silent" }), config);
  const [admin] = await sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
  const [project] = await sql<{ id: string; public_id: string }[]>`select id, public_id from altalune_projects where is_default`;
  const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
  const issuer = await TestIssuer.start();
  const token = await issuer.token({ sub: admin!.public_id, perms: ["root"], memberships: { [project!.public_id]: "owner" }, expiresIn: 3600 });
  const env = { DATABASE_URL: db.url, AUTH_ISSUER: issuer.url, API_AUDIENCE: issuer.audience, SHUTDOWN_DRAIN_MS: "0", DB_POOL_MAX: String(concurrency) };
  const { employees, roles } = await fixtures(sql, project!.public_id, concurrency);
  const servers = { audited: await startServer(env, false), baseline: await startServer(env, true) };
  const headers = { authorization: `Bearer ${token}` };
  const clients = (s: Server) => ({
    employees: createGrpcJsClient(EmployeeService, `127.0.0.1:${s.grpc}`, headers),
    roles: createGrpcJsClient(RoleService, `127.0.0.1:${s.grpc}`, headers),
  });
  const client = { audited: clients(servers.audited), baseline: clients(servers.baseline) };
  /** UpdateEmployee of worker i's own employee, its name alternating (so every call changes the row). */
  const employeeCall = (c: ReturnType<typeof clients>["employees"]["client"]) => (worker: number, n: number) =>
    c.updateEmployee({
      projectId: project!.public_id,
      employeeId: employees[worker]!,
      name: n % 2 === 0 ? "Bench Person" : "Bench Persona",
      email: `bench${worker}@audit.bench`,
      role: "Engineer",
      department: "Platform",
      status: EmployeeStatus.ACTIVE,
    });
  const updateEmployee = (audited: boolean) => employeeCall(client[audited ? "audited" : "baseline"].employees.client);
  const updateRole = (audited: boolean) => (worker: number, n: number) =>
    client[audited ? "audited" : "baseline"].roles.client.updateRole({ id: roles[worker]!, name: `bench_role_${worker}_${n % 2}`, description: "" });

  // The statement UpdateEmployee sends, with its audit CTE (the code path the server runs) and without.
  const record: AuditEventRecord = {
    actorType: "user",
    actorId: admin!.public_id,
    action: "altalune.v1.EmployeeService/UpdateEmployee",
    targetType: "employee",
    projectId: project!.public_id,
    result: "ok",
    requestId: "00000000-0000-4000-8000-000000000000",
    clientAddress: "127.0.0.1",
    userAgent: "grpc-node-js/1.14.7",
    changedFields: ["name", "email", "role", "department", "status"],
  };
  const statement = (worker: number, n: number) => sql`
    update altalune_example_employees
    set name = ${n % 2 === 0 ? "Bench Person" : "Bench Persona"}, email = ${`bench${worker}@audit.bench`}, role = 'Engineer',
        department = 'Platform', status = 'active', updated_at = CURRENT_TIMESTAMP
    where project_id = ${project!.id} and public_id = ${employees[worker]!}
    returning public_id, name, email, role, department, status, created_at, updated_at`;
  const sqlUpdate = (audited: boolean) => (worker: number, n: number) =>
    audited
      ? new PendingAuditEvent(() => ({ ...record, targetId: employees[worker]! }), sql).run(() => auditedWrite(sql, statement(worker, n)))
      : statement(worker, n);

  const rows: Row[] = [];
  try {
    for (const [name, call] of [
      ["UpdateEmployee (row in the UPDATE's CTE)", updateEmployee],
      ["UpdateRole (row before COMMIT of its transaction)", updateRole],
      ["the UPDATE statement alone, postgres.js", sqlUpdate],
    ] as const) {
      rows.push(await pairsOf(`${name}, ${concurrency} in flight`, "calls/s", true, async (audited) => (await measure(concurrency, call(audited))).perSecond));
      rows.push(await pairsOf(`${name}, 1 in flight`, "ms mean", false, async (audited) => (await measure(1, call(audited))).meanMs));
    }
  } finally {
    for (const c of Object.values(client)) {
      c.employees.close();
      c.roles.close();
    }
    await Promise.all([servers.audited.stop(), servers.baseline.stop()]);
  }

  let profileLines: string[] = [];
  if (values.profile !== undefined) {
    profileLines = await profile(values.profile, env, (s) => {
      const c = createGrpcJsClient(EmployeeService, `127.0.0.1:${s.grpc}`, headers);
      return { call: employeeCall(c.client), close: c.close };
    });
  }

  const [audits] = await sql<{ n: number }[]>`select count(*)::int as n from altalune_audit_events`;
  await sql.end();
  await issuer.close();
  await db.stop();

  const fmt = (n: number, unit: string) => (unit === "calls/s" ? String(Math.round(n)) : n.toFixed(2));
  const lines = [
    sectionHeading("Audit log: cost on write RPCs (issue 15)", version?.v ?? "?"),
    "",
    `\`pnpm bench:audit\` — two \`startResourcesServer\` processes on one database (bench/audit-server.ts: audited, and with the audit step off), grpc-js client in a third; ${seconds} s per run after 1 s warm-up, ${pairs} interleaved audited/baseline pairs per row, each worker updating its own row; ratio = median of the pair ratios (audited / baseline). ${audits?.n ?? 0} audit rows were written in the run.`,
    "",
    "| call | audited (median) | baseline (median) | unit | ratio (median of pairs) | pair ratios |",
    "|---|---:|---:|---|---:|---|",
    ...rows.map((r) => {
      const { ratios, median: m } = ratioOf(r);
      return `| ${r.what} | ${fmt(median(r.audited), r.unit)} | ${fmt(median(r.baseline), r.unit)} | ${r.unit} | **${m.toFixed(3)}** | ${ratios.map((x) => x.toFixed(2)).join(", ")} |`;
    }),
    ...profileLines,
  ];
  if (values["no-publish"]) process.stdout.write(`${lines.join("\n")}\n`);
  else await publish(lines);
}

/** The audited server under --cpu-prof for the UpdateEmployee load; the audit code's share of its busy samples. */
async function profile(
  dir: string,
  env: Record<string, string>,
  loadOf: (server: Server) => { call: (worker: number, n: number) => Promise<unknown>; close(): void },
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const before = new Set(await readdir(dir));
  const server = await startServer(env, false, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  const load = loadOf(server);
  const measured = await measure(concurrency, load.call);
  load.close();
  await server.stop();
  const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile") && !before.has(f));
  const tool = join(root, "bench/profile-share.ts");
  if (files.length === 0 || !existsSync(tool)) return ["", `(profile: no new .cpuprofile in ${dir}, or bench/profile-share.ts is missing)`];
  const file = join(dir, files[0]!);
  const patterns = ["call-audit.ts", "audit-scope.ts", "audit-writer.ts"].map((f) => `${f}=/packages\/(rpc|db)\/src\/${f.replace(".", "\\.")}$/`);
  // The last `seconds` of the profile: the measured load and the (idle) shutdown after it; start-up,
  // seeding and warm-up excluded.
  const window = `--from=-${seconds}`;
  const out = spawnSync(process.execPath, ["--import", "tsx", tool, file, ...patterns, window], { encoding: "utf8" });
  return [
    "",
    `Profile of the audited server (\`node --cpu-prof\`) under the UpdateEmployee load, ${concurrency} in flight, ${seconds} s (${Math.round(measured.perSecond)} calls/s under the profiler), via \`bench/profile-share.ts ${file.split("/").pop()} ${patterns.join(" ")} ${window}\`:`,
    "",
    "```",
    (out.stdout || out.stderr).trim(),
    "```",
  ];
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
