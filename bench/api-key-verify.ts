// verifyApiKey with many projects: each project has its own partition of the keys table, so a
// lookup that could not name the partition would probe every one. Measures verification latency
// and shows the plan of the credential query. Appends a dated table to bench/RESULTS.md.
// Run: pnpm bench:apikeys [--projects 10000] [--calls 2000]
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CreateApiKeyRequestSchema, CreateProjectRequestSchema, DeleteProjectRequestSchema } from "@altalune/proto";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool, ensureAllPartitions, migrateUp, runPostMigrate } from "@altalune/db";
import { createContainer, seed } from "@altalune/resources";
import { operatorContext, publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({ options: { projects: { type: "string", default: "10000" }, calls: { type: "string", default: "2000" } } });
const projectCount = Number(values.projects);
const calls = Number(values.calls);


async function main() {
  const db = await startBenchDatabase();
  const sql = createPool(db.url, { max: 4 });
  const logger = createLogger({ level: "silent" });
  const config = loadConfig({ LOG_LEVEL: "silent" });
  try {
    await migrateUp(sql);
    await runPostMigrate(sql);
    await seed(sql, logger, config);
    const t0 = performance.now();
    await sql`
      insert into altalune_projects (public_id, name, timezone, environment)
      select substr(translate(md5(g::text), '01io', '2345'), 1, 14), 'Tenant ' || g, 'UTC', 'live'
      from generate_series(1, ${projectCount}) g`;
    const created = await ensureAllPartitions(sql);
    const setupSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`${projectCount} projects, ${created.length} partitions in ${setupSeconds.toFixed(0)} s\n`);

    const { services, auth } = createContainer({ sql, config, logger });
    const [target] = await sql<{ public_id: string }[]>`select public_id from altalune_projects order by id desc limit 1`;
    const created1 = await services.apiKey.createApiKey(
      create(CreateApiKeyRequestSchema, {
        projectId: target!.public_id,
        name: "bench",
        expiration: timestampFromDate(new Date(Date.now() + 86_400_000)),
      }),
      operatorContext(),
    );
    const key = created1.keyValue;

    const time = async (fn: () => Promise<unknown>) => {
      for (let i = 0; i < 50; i++) await fn();
      const samples: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await fn();
        samples.push(performance.now() - t);
      }
      samples.sort((a, b) => a - b);
      return { p50: samples[Math.floor(calls / 2)]!, p99: samples[Math.floor(calls * 0.99)]! };
    };
    const valid = await time(() => auth.apiKeys.verify(key));
    const wrong = await time(() => auth.apiKeys.verify(key.slice(0, -2) + (key.endsWith("AA") ? "BB" : "AA")));

    // Every query on a partitioned table names its project: one that does not would lock all
    // 20,000 partitions and exhaust the lock table ("out of shared memory").
    const [project] = await sql<{ id: string }[]>`select id from altalune_projects where public_id = ${target!.public_id}`;
    const ids = { id: project!.id, key_id: created1.apiKey!.id };
    const plan = (
      await sql.unsafe<{ "QUERY PLAN": string }[]>(
        `explain (analyze, costs off, timing off, summary off)
         select id, key_hash, active, expiration from altalune_project_api_keys where project_id = $1 and public_id = $2`,
        [ids.id, ids.key_id],
      )
    ).map((r) => r["QUERY PLAN"]);

    const timeOnce = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      try {
        await fn();
        return `${(performance.now() - t).toFixed(0)} ms`;
      } catch (e) {
        return `fails: ${e instanceof Error ? e.message : String(e)}`;
      }
    };
    let extra = "";
    const createProject = await timeOnce(async () => {
      const res = await services.project.createProject(
        create(CreateProjectRequestSchema, { name: "One more", timezone: "UTC", environment: "live" }),
      );
      extra = res.project!.id;
    });
    const deleteProject = await timeOnce(() => services.project.deleteProject(create(DeleteProjectRequestSchema, { id: extra })));
    const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    const lines = [
      sectionHeading("verifyApiKey", version?.v ?? "?"),      "",
      `${projectCount.toLocaleString("en")} projects (${created.length.toLocaleString("en")} partitions created in ${setupSeconds.toFixed(0)} s); ${calls} sequential verifications in-process after 50 warm-up calls.`,
      "",
      "| case | p50 ms | p99 ms |",
      "|---|---:|---:|",
      `| valid key | ${valid.p50.toFixed(3)} | ${valid.p99.toFixed(3)} |`,
      `| wrong secret | ${wrong.p50.toFixed(3)} | ${wrong.p99.toFixed(3)} |`,
      "",
      `CreateProject with ${projectCount.toLocaleString("en")} projects present: ${createProject}; DeleteProject: ${deleteProject}.`,
      "",
      "Plan of the key lookup (custom plan, as the pool runs it):",
      "",
      "```",
      ...plan,
      "```",
    ];
    await publish(lines);
  } finally {
    await sql.end();
    await db.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
