// QueryEmployees at scale, through the API (Connect binary over h2c from a client in its own process,
// bench/search-client.ts, to the server in this one: the whole pipeline and the real repo) and through
// the service object alone, and what provisioning the per-project partitions costs. Cases (--cases, comma-separated):
//   scale      --rows employees spread evenly over --projects projects; p50/p95/p99 of a keyword plus
//              one filter, page of --page-size, each call on the next project in turn (--warm-pass:
//              after one call on every project, as on a server that has been running)
//   ratio      two databases, --few and --many projects, the queried project holding --target-rows
//              rows in both (every other project --filler-rows); calls alternate between the two,
//              and the result is the ratio many/few. Also times provisioning the --many projects'
//              partitions (ensureAllPartitions), and plans the statement in both (EXPLAIN ANALYZE)
//   provision  ensureAllPartitions for --provision-projects existing projects, against creating the
//              same partitions one statement (one transaction) each, as before batching
//   keywords   the keyword cases on --keyword-rows rows, with and without the pg_trgm index (0006)
//   growth     what one CREATE … PARTITION OF costs as partitions accumulate: projects are provisioned
//              (ensureAllPartitions) up to each of --growth-at in turn, and there the next
//              --growth-sample projects' partitions are created, half one statement and transaction
//              each, half in one transaction, alternating (ABAB)
// Each case creates its own database on DATABASE_URL's server (else a throwaway embedded one) and
// drops it. The defaults are the issue's sizes: ~20 min on 2 cores, most of it PostgreSQL creating
// 20,000 partitions (`--many 2000` for a quick run; growth, another ~8 min, only when asked for).
// Appends a dated section to bench/RESULTS.md; each case ends with its UTC times and the load
// average at its start and end, as the machine is shared.
// Run: pnpm bench:search [--cases scale,ratio,provision,keywords,growth] [--calls 1000] [--warm-pass] [--no-publish]
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { createLogger, loadConfig } from "@altalune/core";
import {
  createPool,
  ensureAllPartitions,
  migrateUp,
  observePool,
  partitionName,
  partitionedTables,
  quoteIdent,
  searchDocumentSql,
  type Sql,
} from "@altalune/db";
import { QueryEmployeesRequestSchema } from "@altalune/proto";
import { createContainer, seed, startResourcesServer, type Container, type ResourcesServer } from "@altalune/resources";
import { TestIssuer } from "@altalune/resources/testing";
import type { SearchAnswer, SearchCall } from "./search-client.js";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({
  options: {
    cases: { type: "string", default: "scale,ratio,provision,keywords" },
    rows: { type: "string", default: "1000000" },
    projects: { type: "string", default: "1000" },
    few: { type: "string", default: "10" },
    many: { type: "string", default: "10000" },
    "target-rows": { type: "string", default: "10000" },
    "filler-rows": { type: "string", default: "20" },
    "provision-projects": { type: "string", default: "2000" },
    "keyword-rows": { type: "string", default: "100000" },
    "growth-at": { type: "string", default: "1000,2500,5000,10000" },
    "growth-sample": { type: "string", default: "40" },
    "page-size": { type: "string", default: "20" },
    calls: { type: "string", default: "1000" },
    runs: { type: "string", default: "20" },
    "warm-pass": { type: "boolean", default: false },
    "no-publish": { type: "boolean", default: false },
  },
});
const cases = new Set(values.cases.split(",").map((c) => c.trim()));
const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const pageSize = num("page-size");
const calls = num("calls");
const WARMUP_CALLS = 50;

const PATHS: readonly Path[] = ["service", "rpc"];
const PATH_LABEL: Record<Path, string> = {
  service: "EmployeeService.queryEmployees (repo + project resolution, in-process)",
  rpc: "QueryEmployees RPC (Connect binary over h2c, client in its own process)",
};
const PATH_NOTE =
  "Two paths: the service object the RPC ends in, called in-process (the database path: project resolution, the repo's statements), " +
  "and the RPC through the whole pipeline (Connect binary over h2c from a client in its own process, timed there, to the server in this one; root JWT warm in the verification cache).";

/** The query every latency case runs: a keyword (~10% of a project's rows) and one filter. */
const KEYWORD = "lovelace";
const FILTER = { roles: { values: ["Engineer"] } };

// ---------------------------------------------------------------------------------------------
// Databases: one per case, on the bench server, dropped at the end.

interface BenchDb {
  name: string;
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

async function createBenchDatabase(serverUrl: string, label: string): Promise<BenchDb> {
  const name = `altalune_bench_${label}_${randomBytes(3).toString("hex")}`;
  const admin = createPool(serverUrl, { max: 1 });
  try {
    await admin.unsafe(`create database ${quoteIdent(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = createPool(url.toString(), { max: 8, queueTimeoutMs: 600_000 });
  let dropped = false;
  return {
    name,
    url: url.toString(),
    sql,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await sql.end();
      const again = createPool(serverUrl, { max: 1 });
      try {
        await again.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
      } finally {
        await again.end();
      }
    },
  };
}

/** `count` projects inserted in one statement (as a restore or an import would leave them), no partitions yet. */
async function insertProjects(sql: Sql, count: number, first = 1): Promise<void> {
  await sql`
    insert into altalune_projects (public_id, name, timezone, environment)
    select substr(translate(md5('p' || g), '01io', '2345'), 1, 14), 'Tenant ' || g, 'UTC', 'live'
    from generate_series(${first}::int, ${first + count - 1}::int) g`;
}

/**
 * A statement that touches many partitions locks each one (and its indexes) until it ends, and
 * with thousands of projects that exhausts the server's lock table ("out of shared memory"): bulk
 * work on many projects goes this many projects at a time.
 */
const PROJECTS_PER_STATEMENT = 100;

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/**
 * `count` employees for each project in `projectIds`, generated in SQL: row g of every project has
 * the same content, so two projects of the same size hold the same data. Names cycle through 10
 * first and 10 last names (a last name: 10% of rows), roles through 5 (20%). Then, as autovacuum
 * would after a bulk load, each partition is vacuumed (GIN's pending list merged) and analyzed.
 */
async function fillEmployees(sql: Sql, projectIds: readonly string[], count: number): Promise<void> {
  for (const ids of chunks(projectIds, PROJECTS_PER_STATEMENT)) {
    await sql`
      insert into altalune_example_employees (project_id, public_id, name, email, role, department, status)
      select p.id, substr(md5(g || '/' || p.id), 1, 14),
             (array['Ada','Alan','Grace','Linus','Barbara','Ken','Edsger','Donald','Margaret','Dennis'])[1 + g % 10]
               || ' ' || (array['Lovelace','Turing','Hopper','Torvalds','Liskov','Thompson','Dijkstra','Knuth','Hamilton','Ritchie'])[1 + (g / 10) % 10]
               || ' ' || g,
             'user' || g || '@' || (array['example.com','corp.io','mail.net'])[1 + g % 3],
             (array['Engineer','Designer','Manager','Analyst','Support'])[1 + g % 5],
             (array['Platform','Data','Product','Security','Sales','Finance','Legal'])[1 + g % 7],
             case when g % 4 = 0 then 'inactive' else 'active' end
      from altalune_projects p cross join generate_series(1, ${count}) g
      where p.id = any(${ids}::bigint[])`;
    // VACUUM takes each listed table in a transaction of its own.
    await sql.unsafe(`vacuum analyze ${ids.map((id) => quoteIdent(partitionName("altalune_example_employees", id))).join(", ")}`);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// The API in front of a database.

interface Api {
  db: BenchDb;
  /** The RPC, over Connect binary (h2c), from a client in its own process (search-client.ts). */
  rpc: RemoteClient;
  /** The service object the RPC ends in (repo, project resolution; no transport, no auth step). */
  service: Container["services"]["employee"];
  server: ResourcesServer;
  close(): Promise<void>;
}

/** The forked RPC client: one call at a time, each timed in the child. */
class RemoteClient {
  private next = 0;
  private readonly waiting = new Map<number, (a: SearchAnswer) => void>();

  constructor(private readonly child: ChildProcess) {
    child.on("message", (a: SearchAnswer) => this.waiting.get(a.id)?.(a));
  }

  static start(baseUrl: string, authorization: string): RemoteClient {
    const child = fork(new URL("./search-client.ts", import.meta.url), [JSON.stringify({ baseUrl, authorization })], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new RemoteClient(child);
  }

  query(call: Omit<SearchCall, "id">): Promise<{ ms: number; rows: number; total: number }> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (a) => {
        this.waiting.delete(id);
        if ("error" in a) reject(new Error(a.error));
        else resolve(a);
      });
      this.child.send({ id, ...call } satisfies SearchCall);
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.disconnect();
    });
  }
}

async function startApi(db: BenchDb, issuer: TestIssuer): Promise<Api> {
  const logger = createLogger({ level: "silent" });
  // Two servers run side by side in the ratio case: /metrics on a port of its own each.
  const config = loadConfig({ LOG_LEVEL: "silent", AUTH_ISSUER: issuer.url, METRICS_PORT: "0" });
  await seed(db.sql, logger, config);
  const [admin] = await db.sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
  // Calls carry a root token from a test issuer (warm verification cache, as in production).
  const authorization = `Bearer ${await issuer.token({ sub: admin!.public_id, perms: ["root"], expiresIn: 6 * 3600 })}`;
  const server = await startResourcesServer({ sql: db.sql, config, logger, ports: { connect: 0, grpc: 0 } });
  const rpc = RemoteClient.start(`http://127.0.0.1:${server.connectPort}/api`, authorization);
  const { services } = createContainer({ sql: db.sql, config, logger });
  return {
    db,
    rpc,
    service: services.employee,
    server,
    async close() {
      await rpc.stop();
      await server.close();
    },
  };
}

type Path = "service" | "rpc";

/** One query on one path; `ms` is its latency (for the RPC, as its client saw it). */
async function queryOnce(
  api: Api,
  projectId: string,
  path: Path = "rpc",
  keyword = KEYWORD,
  filters: Record<string, { values: string[] }> = FILTER,
): Promise<{ ms: number; rows: number; total: number }> {
  if (path === "rpc") return api.rpc.query({ projectId, keyword, filters, pageSize });
  const req = create(QueryEmployeesRequestSchema, { projectId, query: { pagination: { page: 1, pageSize }, keyword, filters } });
  const started = performance.now();
  const res = await api.service.queryEmployees(req);
  return { ms: performance.now() - started, rows: res.data.length, total: res.meta?.rowCount ?? 0 };
}

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

const ms = (n: number) => n.toFixed(2);

/** public ids of the projects, in id order. */
async function projectPublicIds(sql: Sql): Promise<{ id: string; publicId: string }[]> {
  const rows = await sql<{ id: string; public_id: string }[]>`select id, public_id from altalune_projects order by id`;
  return rows.map((r) => ({ id: r.id, publicId: r.public_id }));
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the page statement QueryEmployees sends (its text captured from
 * the pool as the repo ran it; the values are the call's), planned with its values as the pool
 * plans it. Median planning and execution times over `runs`, the partitions the plan touches.
 */
async function explainPage(api: Api, projectPublicId: string, projectId: string, runs: number) {
  let text: string | undefined;
  const stop = observePool(api.db.sql, (_k, _s, ok, detail) => {
    if (ok && text === undefined && detail.text?.includes("count(*) over ()")) text = detail.text;
  });
  try {
    await queryOnce(api, projectPublicId);
  } finally {
    stop();
  }
  if (text === undefined) throw new Error("did not see the page statement of QueryEmployees");
  const placeholders = new Set(text.match(/\$[0-9]+/g)).size;
  // The engine binds, in order: the project id, the keyword pattern, the filter values, LIMIT,
  // OFFSET, and the project id again (reading the page's rows back).
  const params = [projectId, `%${KEYWORD}%`, FILTER.roles.values.map((v) => v.toLowerCase()), pageSize, 0, projectId];
  if (placeholders !== params.length) throw new Error(`page statement has ${placeholders} parameters, expected ${params.length}`);
  const planning: number[] = [];
  const execution: number[] = [];
  let plan: string[] = [];
  for (let i = 0; i < runs; i++) {
    plan = (await api.db.sql.unsafe<{ "QUERY PLAN": string }[]>(`explain (analyze, buffers) ${text}`, params)).map((r) => r["QUERY PLAN"]);
    const grab = (label: string) => Number(/([0-9.]+) ms/.exec(plan.find((l) => l.startsWith(label)) ?? "")?.[1] ?? Number.NaN);
    planning.push(grab("Planning Time"));
    execution.push(grab("Execution Time"));
  }
  const partitions = new Set(plan.join("\n").match(/altalune_example_employees_p[0-9]+/g));
  return { planning: percentiles(planning).p50, execution: percentiles(execution).p50, partitions: partitions.size, plan };
}

// ---------------------------------------------------------------------------------------------
// Cases.

async function scaleCase(serverUrl: string, issuer: TestIssuer): Promise<string[]> {
  const rows = num("rows");
  const projectCount = num("projects");
  const perProject = Math.max(1, Math.floor(rows / projectCount));
  const db = await createBenchDatabase(serverUrl, "scale");
  try {
    await migrateUp(db.sql);
    await insertProjects(db.sql, projectCount);
    const provision = await timed(() => ensureAllPartitions(db.sql));
    const api = await startApi(db, issuer);
    try {
      const projects = (await projectPublicIds(db.sql)).slice(0, projectCount);
      const load = await timed(() =>
        fillEmployees(
          db.sql,
          projects.map((p) => p.id),
          perProject,
        ),
      );
      process.stderr.write(`scale: ${projects.length} projects × ${perProject} rows loaded in ${load.seconds.toFixed(0)} s\n`);
      const samples: Record<Path, number[]> = { service: [], rpc: [] };
      let matched = 0;
      // --warm-pass: first one call per project and path, as a server that has run for a while
      // has resolved every project once (ProjectRepo's id cache) and opened its partition.
      const warmup = values["warm-pass"] ? Math.max(WARMUP_CALLS, projects.length) : WARMUP_CALLS;
      for (let i = 0; i < warmup + calls; i++) {
        const project = projects[i % projects.length]!;
        // Both paths on the same project, in alternating order: neither always finds it warm.
        for (const path of i % 2 === 0 ? PATHS : [...PATHS].reverse()) {
          const r = await queryOnce(api, project.publicId, path);
          if (i >= warmup) samples[path].push(r.ms);
          matched = r.total;
        }
      }
      const explained = await explainPage(api, projects[0]!.publicId, projects[0]!.id, 20);
      return [
        `### QueryEmployees: ${(perProject * projects.length).toLocaleString("en")} employees across ${projects.length.toLocaleString("en")} projects`,
        "",
        `${perProject.toLocaleString("en")} employees per project; keyword \`${KEYWORD}\` plus filter roles = Engineer (${matched} matching rows per project), page of ${pageSize}; ` +
          `${calls} sequential calls per path after ${warmup} warm-up calls${values["warm-pass"] ? " (one pass over every project)" : ""}, each on the next project in turn. ` +
          `${PATH_NOTE} Setup: partitions for ${projects.length.toLocaleString("en")} projects in ${provision.seconds.toFixed(1)} s, rows loaded and vacuumed in ${load.seconds.toFixed(0)} s. ` +
          `The page statement's planning and execution times are medians of 20 EXPLAIN (ANALYZE, BUFFERS) runs of its text as the repo sent it.`,
        "",
        "| path | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|",
        ...PATHS.map((path) => {
          const p = percentiles(samples[path]);
          return `| ${PATH_LABEL[path]} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} |`;
        }),
        "",
        `Page statement: planning ${ms(explained.planning)} ms, execution ${ms(explained.execution)} ms, ${explained.partitions} partition in the plan.`,
        "",
      ];
    } finally {
      await api.close();
    }
  } finally {
    await db.drop();
  }
}

async function ratioCase(serverUrl: string, issuer: TestIssuer): Promise<string[]> {
  const few = num("few");
  const many = num("many");
  const targetRows = num("target-rows");
  const fillerRows = num("filler-rows");
  const dbs: BenchDb[] = [];
  const apis: Api[] = [];
  try {
    const setup: { api: Api; target: { id: string; publicId: string }; provisionSeconds: number; partitions: number }[] = [];
    for (const [label, count] of [
      ["few", few],
      ["many", many],
    ] as const) {
      const db = await createBenchDatabase(serverUrl, label);
      dbs.push(db);
      await migrateUp(db.sql);
      await insertProjects(db.sql, count);
      const provision = await timed(() => ensureAllPartitions(db.sql));
      process.stderr.write(`${label}: ${provision.value.length} partitions for ${count} projects in ${provision.seconds.toFixed(1)} s\n`);
      const api = await startApi(db, issuer);
      apis.push(api);
      const projects = (await projectPublicIds(db.sql)).slice(0, count);
      // The queried project is the newest: its partition is the last one created.
      const target = projects[projects.length - 1]!;
      await fillEmployees(db.sql, [target.id], targetRows);
      await fillEmployees(
        db.sql,
        projects.slice(0, -1).map((p) => p.id),
        fillerRows,
      );
      setup.push({ api, target, provisionSeconds: provision.seconds, partitions: provision.value.length });
    }
    const [a, b] = setup as [(typeof setup)[0], (typeof setup)[0]];
    const combos = PATHS.flatMap((path) => [0, 1].map((k) => ({ k, path })));
    const samples = new Map(combos.map((c) => [`${c.k}/${c.path}`, [] as number[]]));
    const results = [0, 0];
    for (let i = 0; i < WARMUP_CALLS + calls; i++) {
      // ABBA: neither database (nor path) always goes first.
      for (const { k, path } of i % 2 === 0 ? combos : [...combos].reverse()) {
        const s = setup[k]!;
        const r = await queryOnce(s.api, s.target.publicId, path);
        if (i >= WARMUP_CALLS) samples.get(`${k}/${path}`)!.push(r.ms);
        results[k] = r.total;
      }
    }
    if (results[0] !== results[1]) throw new Error(`the two queried projects differ: ${results[0]} vs ${results[1]} matching rows`);
    const ea = await explainPage(a.api, a.target.publicId, a.target.id, 50);
    const eb = await explainPage(b.api, b.target.publicId, b.target.id, 50);
    const tables = await partitionedTables(b.api.db.sql);
    const row = (label: string, cells: string[]) => `| ${label} | ${cells.join(" | ")} |`;
    const latency = (k: number, path: Path) => percentiles(samples.get(`${k}/${path}`)!);
    return [
      `### QueryEmployees: ${few.toLocaleString("en")} vs ${many.toLocaleString("en")} projects, same queried project`,
      "",
      `The queried project holds ${targetRows.toLocaleString("en")} employees in both databases (${results[0]} match keyword \`${KEYWORD}\` plus roles = Engineer), every other project ${fillerRows}; page of ${pageSize}. ` +
        `${calls} calls per database and path after ${WARMUP_CALLS} warm-up calls, all four series interleaved (ABBA). ${PATH_NOTE} ` +
        `The page statement's planning and execution times are medians of 50 EXPLAIN (ANALYZE, BUFFERS) runs of its text as the repo sent it.`,
      "",
      `| | ${few.toLocaleString("en")} projects | ${many.toLocaleString("en")} projects | ratio |`,
      "|---|---:|---:|---:|",
      row("partitions provisioned (ensureAllPartitions)", [a.partitions.toLocaleString("en"), b.partitions.toLocaleString("en"), ""]),
      row("provisioning, s", [a.provisionSeconds.toFixed(1), b.provisionSeconds.toFixed(1), ""]),
      ...PATHS.flatMap((path) =>
        (["p50", "p95", "p99"] as const).map((q) => {
          const x = latency(0, path)[q];
          const y = latency(1, path)[q];
          const ratio = (y / x).toFixed(2);
          return row(`${PATH_LABEL[path]}, ${q} ms`, [ms(x), ms(y), q === "p99" ? ratio : `**${ratio}**`]);
        }),
      ),
      row("page statement: planning, ms", [ms(ea.planning), ms(eb.planning), (eb.planning / ea.planning).toFixed(2)]),
      row("page statement: execution, ms", [ms(ea.execution), ms(eb.execution), (eb.execution / ea.execution).toFixed(2)]),
      row("partitions in the plan", [String(ea.partitions), String(eb.partitions), ""]),
      "",
      `Plan with ${many.toLocaleString("en")} projects (${tables.length} partitioned tables):`,
      "",
      "```",
      ...eb.plan,
      "```",
      "",
    ];
  } finally {
    for (const api of apis) await api.close();
    for (const db of dbs) await db.drop();
  }
}

function createPartitionSql(table: string, projectId: string): string {
  return `create table if not exists ${quoteIdent(partitionName(table, projectId))} partition of ${quoteIdent(table)} for values in (${projectId})`;
}

/** How partitions were created before batching: one CREATE … PARTITION OF, one transaction, per partition. */
async function createPartitionsOneByOne(sql: Sql): Promise<number> {
  const tables = await partitionedTables(sql);
  const projects = await sql<{ id: string }[]>`select id::text as id from altalune_projects order by id`;
  let created = 0;
  for (const { id } of projects) {
    for (const table of tables) {
      await sql.unsafe(createPartitionSql(table, id));
      created++;
    }
  }
  return created;
}

async function provisionCase(serverUrl: string): Promise<string[]> {
  const count = num("provision-projects");
  const rows: string[] = [];
  const runs: [string, (sql: Sql) => Promise<number>][] = [
    ["one statement and transaction per partition (before)", createPartitionsOneByOne],
    ["ensureAllPartitions, batched (after)", async (sql) => (await ensureAllPartitions(sql)).length],
  ];
  for (const [label, run] of runs) {
    const db = await createBenchDatabase(serverUrl, "provision");
    try {
      await migrateUp(db.sql);
      await insertProjects(db.sql, count);
      const r = await timed(() => run(db.sql));
      process.stderr.write(`provision: ${label}: ${r.value} partitions in ${r.seconds.toFixed(1)} s\n`);
      rows.push(`| ${label} | ${r.value.toLocaleString("en")} | ${r.seconds.toFixed(1)} | ${((r.seconds * 1000) / r.value).toFixed(1)} |`);
    } finally {
      await db.drop();
    }
  }
  return [
    `### Provisioning partitions for ${count.toLocaleString("en")} existing projects`,
    "",
    "| how | partitions | seconds | ms per partition |",
    "|---|---:|---:|---:|",
    ...rows,
    "",
  ];
}

/**
 * The cost of one CREATE … PARTITION OF against the partitions that already exist. At each
 * checkpoint the projects up to it get their partitions (ensureAllPartitions, timed), then the next
 * --growth-sample projects' partitions are created in four alternating runs: one statement and
 * transaction per partition (the statements in a row on one connection), and all of a run's in one
 * transaction. Reported per partition.
 */
async function growthCase(serverUrl: string): Promise<string[]> {
  const checkpoints = values["growth-at"].split(",").map((c) => Number(c.trim()));
  if (checkpoints.some((c, i) => !Number.isSafeInteger(c) || c < 1 || (i > 0 && c <= checkpoints[i - 1]!))) {
    throw new Error("--growth-at must be increasing positive integers");
  }
  const sample = num("growth-sample");
  const perRun = Math.max(1, Math.floor(sample / 4));
  const db = await createBenchDatabase(serverUrl, "growth");
  const rows: string[] = [];
  try {
    await migrateUp(db.sql);
    const tables = await partitionedTables(db.sql);
    let projects = 0;
    let provisioned = 0;
    for (const at of checkpoints) {
      if (at > projects) await insertProjects(db.sql, at - projects, projects + 1);
      projects = Math.max(projects, at);
      const provision = await timed(() => ensureAllPartitions(db.sql));
      provisioned += provision.seconds;
      const [counts] = await db.sql<{ partitions: number; constraints: number }[]>`
        select (select count(*) from pg_inherits i join pg_class c on c.oid = i.inhparent where c.relname = any(${tables}::text[]))::int as partitions,
               (select count(*) from pg_constraint)::int as constraints`;
      const { partitions, constraints } = counts ?? { partitions: 0, constraints: 0 };
      const perPartition: Record<"separate" | "one", number[]> = { separate: [], one: [] };
      for (let run = 0; run < 4; run++) {
        await insertProjects(db.sql, perRun, projects + 1);
        const ids = Array.from({ length: perRun }, (_, i) => String(projects + 1 + i));
        projects += perRun;
        const statements = ids.flatMap((id) => tables.map((table) => createPartitionSql(table, id)));
        const mode = run % 2 === 0 ? "separate" : "one";
        const t = await timed(async () => {
          if (mode === "separate") for (const statement of statements) await db.sql.unsafe(statement);
          else await db.sql.begin((tx) => tx.unsafe(statements.join(";\n")));
        });
        perPartition[mode].push((t.seconds * 1000) / statements.length);
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      process.stderr.write(`growth: ${partitions} partitions: ${ms(mean(perPartition.separate))} / ${ms(mean(perPartition.one))} ms per partition\n`);
      rows.push(
        `| ${partitions.toLocaleString("en")} | ${constraints.toLocaleString("en")} | ${provisioned.toFixed(1)} | ` +
          `${perPartition.separate.map(ms).join(", ")} | ${perPartition.one.map(ms).join(", ")} |`,
      );
    }
  } finally {
    await db.drop();
  }
  return [
    "### CREATE … PARTITION OF against the partitions that exist",
    "",
    `${checkpoints.map((c) => c.toLocaleString("en")).join(", ")} projects provisioned in turn (ensureAllPartitions; the time is cumulative), then at each the next ` +
      `${4 * perRun} projects' partitions (${perRun} projects per run, alternating): one statement and transaction per partition, and one transaction per run. Milliseconds per partition, one value per run.`,
    "",
    "| per-project partitions before | rows in pg_constraint | ensureAllPartitions so far, s | one transaction each, ms | one transaction per run, ms |",
    "|---:|---:|---:|---:|---:|",
    ...rows,
    "",
  ];
}

/** The keyword cases of the first version of this bench: one big project, trigram index on and off. */
async function keywordsCase(serverUrl: string, issuer: TestIssuer): Promise<string[]> {
  const rows = num("keyword-rows");
  const runs = num("runs");
  const TRGM_INDEX = "ix_altalune_example_employees_search_trgm";
  const CASES = [
    { label: "selective (one row: an email)", keyword: "user77777@" },
    { label: "medium (~1% of rows)", keyword: "lovelace 9" },
    { label: "broad (20% of rows: a role)", keyword: "analyst" },
    { label: "2 characters (trigrams cannot help)", keyword: "zz" },
    { label: "no keyword (default sort, first page)", keyword: "" },
  ];
  const db = await createBenchDatabase(serverUrl, "keywords");
  try {
    await migrateUp(db.sql);
    await insertProjects(db.sql, 10);
    await ensureAllPartitions(db.sql);
    const api = await startApi(db, issuer);
    try {
      const projects = await projectPublicIds(db.sql);
      const big = projects[projects.length - 1]!;
      await fillEmployees(db.sql, [big.id], rows);
      await fillEmployees(
        db.sql,
        projects.slice(0, 9).map((p) => p.id),
        1000,
      );
      const [hasTrgm] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_indexes where indexname = ${TRGM_INDEX}`;
      if (hasTrgm?.n !== 1) throw new Error("the pg_trgm index of migration 0006 is missing on this server");
      const measure = async (keyword: string) => {
        const times: number[] = [];
        let rowCount = 0;
        for (let i = 0; i < runs + 2; i++) {
          const r = await queryOnce(api, big.publicId, "rpc", keyword, {});
          rowCount = r.total;
          if (i >= 2) times.push(r.ms); // two warm-up calls
        }
        return { median: percentiles(times).p50, rowCount };
      };
      const planOf = async (keyword: string) => {
        if (keyword === "") return "-";
        const plan = await db.sql.unsafe<{ "QUERY PLAN": string }[]>(
          `explain select count(*) from altalune_example_employees where project_id = ${big.id}
             and ${searchDocumentSql(["name", "email", "role", "department"])} ilike $1`,
          [`%${keyword}%`],
        );
        const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
        return /Bitmap Index Scan on \S*(trgm|expr_idx)/.test(text) ? "trigram bitmap" : /Seq Scan/.test(text) ? "seq scan" : "other";
      };
      type Row = { median: number; rowCount: number; plan: string };
      const after: Row[] = [];
      for (const c of CASES) after.push({ ...(await measure(c.keyword)), plan: await planOf(c.keyword) });
      await db.sql.unsafe(`drop index ${TRGM_INDEX}`);
      const before: Row[] = [];
      for (const c of CASES) before.push({ ...(await measure(c.keyword)), plan: await planOf(c.keyword) });
      return [
        `### Keyword search on one project with ${rows.toLocaleString("en")} employees`,
        "",
        `9 other projects with 1,000 each, no filter, page of ${pageSize}, median of ${runs} calls.`,
        "",
        "| keyword | matching rows | without trigram index | plan | with trigram index (0006) | plan |",
        "|---|---:|---:|---|---:|---|",
        ...CASES.map(
          (c, i) =>
            `| ${c.label}: \`${c.keyword}\` | ${after[i]!.rowCount} | ${before[i]!.median.toFixed(1)} ms | ${before[i]!.plan} | ${after[i]!.median.toFixed(1)} ms | ${after[i]!.plan} |`,
        ),
        "",
      ];
    } finally {
      await api.close();
    }
  } finally {
    await db.drop();
  }
}

async function main() {
  const server = await startBenchDatabase();
  const issuer = await TestIssuer.start();
  const sections: string[] = [];
  let version = "?";
  try {
    const probe = createPool(server.url, { max: 1 });
    try {
      const [v] = await probe<{ v: string }[]>`select current_setting('server_version') as v`;
      version = v?.v ?? "?";
    } finally {
      await probe.end();
    }
    const runs: [string, () => Promise<string[]>][] = [
      ["scale", () => scaleCase(server.url, issuer)],
      ["ratio", () => ratioCase(server.url, issuer)],
      ["provision", () => provisionCase(server.url)],
      ["keywords", () => keywordsCase(server.url, issuer)],
      ["growth", () => growthCase(server.url)],
    ];
    for (const [name, run] of runs) {
      if (!cases.has(name)) continue;
      // The machine is shared: what else ran is part of the result.
      const before = loadavg();
      const started = new Date().toISOString().slice(11, 16);
      const section = await run();
      const after = loadavg();
      section.push(
        `Case \`${name}\` ran from ${started} to ${new Date().toISOString().slice(11, 16)} UTC; load average (1, 5, 15 min) ` +
          `${before.map((l) => l.toFixed(2)).join(", ")} at its start and ${after.map((l) => l.toFixed(2)).join(", ")} at its end.`,
        "",
      );
      // Shown as soon as it is measured: a later case can take long, or fail.
      process.stderr.write(`${section.join("\n")}\n`);
      sections.push(...section);
    }
  } finally {
    await issuer.close();
    await server.stop();
  }
  const lines = [sectionHeading("QueryEmployees at scale and partition provisioning (issue 13)", version), "", ...sections];
  if (values["no-publish"]) process.stdout.write(`${lines.join("\n")}\n`);
  else await publish(lines);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
