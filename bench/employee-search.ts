// QueryEmployees on one project with 100,000 employees (and 9 smaller projects beside it), with and
// without the pg_trgm indexes of migration 0006. Calls go through the API (Connect binary) so the
// numbers include the whole pipeline. Appends a dated table to bench/RESULTS.md.
// Run: pnpm bench:search [--rows 100000] [--runs 20]
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool, migrateUp, runPostMigrate, searchDocumentSql, type Sql } from "@altalune/db";
import { EmployeeService, ProjectService } from "@altalune/proto";
import { seed, startResourcesServer } from "@altalune/resources";
import { TestIssuer } from "../apps/resources/src/testing/test-issuer.js";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({ options: { rows: { type: "string", default: "100000" }, runs: { type: "string", default: "20" } } });
const rows = Number(values.rows);
const runs = Number(values.runs);
const TRGM_INDEXES = ["ix_altalune_example_employees_search_trgm"];


/** Realistic-looking rows generated in SQL: 100k inserts from the client would dominate the run. */
async function fill(sql: Sql, projectId: string, count: number): Promise<void> {
  await sql`
    insert into altalune_example_employees (project_id, public_id, name, email, role, department, status)
    select ${projectId}, substr(md5(g::text || ${projectId}), 1, 14),
           (array['Ada','Alan','Grace','Linus','Barbara','Ken','Edsger','Donald','Margaret','Dennis'])[1 + g % 10]
             || ' ' || (array['Lovelace','Turing','Hopper','Torvalds','Liskov','Thompson','Dijkstra','Knuth','Hamilton','Ritchie'])[1 + (g / 10) % 10]
             || ' ' || g,
           'user' || g || '@' || (array['example.com','corp.io','mail.net'])[1 + g % 3],
           (array['Engineer','Designer','Manager','Analyst','Support'])[1 + g % 5],
           (array['Platform','Data','Product','Security','Sales','Finance','Legal'])[1 + g % 7],
           case when g % 4 = 0 then 'inactive' else 'active' end
    from generate_series(1, ${count}) g`;
  // As autovacuum would after a bulk load: merge GIN's pending list and refresh statistics.
  await sql`vacuum analyze altalune_example_employees`;
}

interface Case {
  label: string;
  keyword: string;
}
const CASES: Case[] = [
  { label: "selective (one row: an email)", keyword: "user77777@" },
  { label: "medium (~1% of rows)", keyword: "lovelace 9" },
  { label: "broad (20% of rows: a role)", keyword: "analyst" },
  { label: "2 characters (trigrams cannot help)", keyword: "zz" },
  { label: "no keyword (default sort, first page)", keyword: "" },
];

async function main() {
  const db = await startBenchDatabase();
  const sql = createPool(db.url, { max: 4 });
  const logger = createLogger({ level: "silent" });
  await migrateUp(sql);
  await runPostMigrate(sql);
  // Calls carry a root token from a test issuer (warm verification cache, as in production).
  const issuer = await TestIssuer.start();
  const config = loadConfig({ LOG_LEVEL: "silent", AUTH_ISSUER: issuer.url });
  await seed(sql, logger, config);
  const [admin] = await sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
  const authorization = `Bearer ${await issuer.token({ sub: admin!.public_id, perms: ["root"], expiresIn: 6 * 3600 })}`;
  const server = await startResourcesServer({ sql, config, logger, ports: { connect: 0, grpc: 0 } });
  const baseUrl = `http://127.0.0.1:${server.connectPort}/api`;
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    interceptors: [(next) => (req) => (req.header.set("authorization", authorization), next(req))],
  });
  const projects = createClient(ProjectService, transport);
  const employees = createClient(EmployeeService, transport);
  try {
    const big = (await projects.createProject({ name: "Big Co", timezone: "UTC", environment: "live" })).project!.id;
    const [bigRow] = await sql<{ id: string }[]>`select id from altalune_projects where public_id = ${big}`;
    await fill(sql, bigRow!.id, rows);
    for (let i = 0; i < 9; i++) {
      const p = (await projects.createProject({ name: `Small ${i}`, timezone: "UTC", environment: "live" })).project!.id;
      const [r] = await sql<{ id: string }[]>`select id from altalune_projects where public_id = ${p}`;
      await fill(sql, r!.id, 1000);
    }
    const [hasTrgm] = await sql<{ n: number }[]>`select count(*)::int as n from pg_indexes where indexname = any(${TRGM_INDEXES})`;
    if (hasTrgm?.n !== TRGM_INDEXES.length) throw new Error("the pg_trgm indexes of migration 0006 are missing on this server");

    const measure = async (keyword: string) => {
      const times: number[] = [];
      let rowCount = 0;
      for (let i = 0; i < runs + 2; i++) {
        const t = performance.now();
        const res = await employees.queryEmployees({
          projectId: big,
          query: { pagination: { page: 1, pageSize: 10 }, keyword, filters: {} },
        });
        if (i >= 2) times.push(performance.now() - t); // two warm-up calls
        rowCount = res.meta?.rowCount ?? 0;
      }
      times.sort((a, b) => a - b);
      return { median: times[Math.floor(times.length / 2)] ?? 0, rowCount };
    };
    const planOf = async (keyword: string) => {
      if (keyword === "") return "-";
      const pattern = `%${keyword}%`;
      const plan = await sql.unsafe<{ "QUERY PLAN": string }[]>(
        `explain select count(*) from altalune_example_employees where project_id = ${bigRow!.id}
           and ${searchDocumentSql(["name", "email", "role", "department"])} ilike $1`,
        [pattern],
      );
      const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
      return /Bitmap Index Scan on \S*(trgm|expr_idx)/.test(text) ? "trigram bitmap" : /Seq Scan/.test(text) ? "seq scan" : "other";
    };

    type Row = { median: number; rowCount: number; plan: string };
    const after: Row[] = [];
    for (const c of CASES) after.push({ ...(await measure(c.keyword)), plan: await planOf(c.keyword) });
    for (const ix of TRGM_INDEXES) await sql.unsafe(`drop index ${ix}`);
    const before: Row[] = [];
    for (const c of CASES) before.push({ ...(await measure(c.keyword)), plan: await planOf(c.keyword) });

    const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    const lines = [
      sectionHeading("QueryEmployees keyword search", version?.v ?? "?"),      "",
      `One project with ${rows.toLocaleString("en")} employees (9 others with 1,000 each), page of 10, Connect binary over h2c, median of ${runs} calls.`,
      "",
      "| keyword | matching rows | without trigram indexes | plan | with trigram indexes (0006) | plan |",
      "|---|---:|---:|---|---:|---|",
      ...CASES.map(
        (c, i) =>
          `| ${c.label}: \`${c.keyword}\` | ${after[i]!.rowCount} | ${before[i]!.median.toFixed(1)} ms | ${before[i]!.plan} | ${after[i]!.median.toFixed(1)} ms | ${after[i]!.plan} |`,
      ),
    ];
    await publish(lines);
  } finally {
    await server.close();
    await issuer.close();
    await sql.end();
    await db.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
