// The call path at the speed of its parts (issue 13): the Resources API's per-call throughput as a
// ratio of anchors measured in the same run, on the same machine.
//   1. ConfigService/GetPublicConfig on the grpc-js port  vs  a bare grpc-js server, same path, fixed reply
//   2. the same over Connect JSON, HTTP/1.1               vs  a bare node:http server, same JSON body
//   3. EmployeeService/GetEmployee on the grpc-js port, warm JWT
//                                                         vs  pgbench (prepared) running the two statements the
//                                                             call ran when the issue was filed: the project
//                                                             lookup by public id, then the employee select
//   4. GetEmployee one call at a time (mean latency)      vs  postgres.js running those two statements alone
// h2load (nghttp2-client) and pgbench (postgresql-client) generate the load; anchor and project runs
// are interleaved (--pairs, default 5), and each row's result is the median of its pair ratios.
// The server is `altalune serve` in its default configuration (access log at info, validation on,
// the full auth chain); its log goes to a file, whose per-call lines are the server's own call
// counter: h2load sees only HTTP 200, so a gRPC row counts only if every call logged in it ended OK.
// Appends the table to bench/RESULTS.md.
//   pnpm bench:ratios [--seconds 3] [--pairs 5] [--concurrency 16] [--only 1,2] [--profile] [--no-publish]
// --profile runs the server under `node --cpu-prof` and reports, per row, how the server's busy CPU
// samples of the project runs split between our code (apps/, packages/) and what it runs on
// (connect-es, protobuf-es, grpc-js, postgres.js, pino, jose, Node's own JS, V8/native); the
// ratios of such a run are taken under the profiler and are not comparable with a plain run.
import { spawn } from "node:child_process";
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool, migrateUp, runPostMigrate } from "@altalune/db";
import { seed } from "@altalune/resources";
import {
  EmployeeService,
  EmployeeStatus,
  GetEmployeeRequestSchema,
  GetPublicConfigRequestSchema,
  GetPublicConfigResponseSchema,
} from "@altalune/proto";
import { TestIssuer } from "@altalune/resources/testing";
import { parsePattern, profileShares } from "./profile-share.js";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    pairs: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
    "no-publish": { type: "boolean", default: false },
    only: { type: "string" },
    profile: { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
const PAIRS = Number(values.pairs);
const CONCURRENCY = Number(values.concurrency);
const WARM_SECONDS = 3;
const root = fileURLToPath(new URL("..", import.meta.url));

const HINTS: Record<string, string> = {
  h2load: "h2load is not installed: apt-get install -y nghttp2-client",
  pgbench: "pgbench is not installed: apt-get install -y postgresql-client",
};

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" && HINTS[cmd] ? new Error(HINTS[cmd]) : e));
    child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}:\n${out}\n${err}`))));
  });
}

/** A gRPC length-prefixed message, as h2load sends it from a file. */
function grpcFrame<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Buffer {
  const bytes = toBinary(schema, create(schema, init));
  const frame = Buffer.alloc(5 + bytes.length);
  frame.writeUInt32BE(bytes.length, 1);
  frame.set(bytes, 5);
  return frame;
}

interface LoadResult {
  perSecond: number;
  succeeded: number;
  meanMs: number;
}

/** h2load for SECONDS after 1 s of warm-up; `h1` for HTTP/1.1 (one call in flight per connection). */
async function h2load(url: string, opts: { body: string; headers: string[]; h1?: boolean; connections: number; streams: number; seconds?: number }): Promise<LoadResult> {
  const argv = [
    ...(opts.h1 ? ["--h1"] : []),
    "-t", "1", "-c", String(opts.connections), "-m", String(opts.streams),
    "-D", String(opts.seconds ?? SECONDS), "--warm-up-time", "1",
    "-d", opts.body, ...opts.headers.flatMap((h) => ["-H", h]), url,
  ];
  const out = await run("h2load", argv);
  const reqs = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const rate = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out);
  const mean = /time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)/.exec(out);
  if (!reqs || !rate || !mean) throw new Error(`cannot read h2load's output:\n${out}`);
  const [, , , , succeeded, failed, errored] = reqs.map(Number);
  if (failed !== 0 || errored !== 0) throw new Error(`h2load: ${failed} failed, ${errored} errored:\n${out}`);
  const unit = mean[2] === "us" ? 0.001 : mean[2] === "s" ? 1000 : 1;
  return { perSecond: Number(rate[1]), succeeded: succeeded ?? 0, meanMs: Number(mean[1]) * unit };
}

/** pgbench, prepared statements, CONCURRENCY clients, SECONDS. */
async function pgbench(url: string, script: string, vars: Record<string, string>): Promise<number> {
  const argv = ["-n", "-M", "prepared", "-c", String(CONCURRENCY), "-j", "1", "-T", String(SECONDS), "-f", script,
    ...Object.entries(vars).flatMap(([k, v]) => ["-D", `${k}=${v}`]), url];
  const out = await run("pgbench", argv);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (!tps) throw new Error(`cannot read pgbench's output:\n${out}`);
  return Number(tps[1]);
}

interface Server {
  connect: number;
  grpc: number;
  /** CPU time (user + system) the server process has used so far, in ms (/proc; 10 ms resolution). */
  cpuMs(): Promise<number>;
  /** Per-call log lines written since the last call: OK ones and others, for a method and transport. */
  calls(method: string, transport: string): Promise<{ ok: number; other: number }>;
  stop(): Promise<void>;
}

async function startServer(databaseUrl: string, issuer: string, dir: string, profileDir?: string): Promise<Server> {
  const logPath = join(dir, "server.log");
  const log = await open(logPath, "w");
  // SERVER_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env["SERVER_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
  if (profileDir !== undefined) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(root, "apps/cli/src/main.ts"), "serve"], {
    env: { ...process.env, DATABASE_URL: databaseUrl, RESOURCES_PORT: "0", GRPC_PORT: "0", LOG_LEVEL: "info", AUTH_ISSUER: issuer },
    stdio: ["ignore", log.fd, "inherit"],
  });
  let exited = false;
  child.once("close", () => (exited = true));
  let ports: { connect: number; grpc: number } | undefined;
  for (let i = 0; i < 300 && ports === undefined; i++) {
    if (exited) throw new Error(`server exited:\n${await readFile(logPath, "utf8")}`);
    await new Promise((r) => setTimeout(r, 100));
    const out = await readFile(logPath, "utf8");
    const c = /Resources API .*:(\d+)\/api/.exec(out);
    const g = /Native gRPC .*:(\d+)/.exec(out);
    if (c?.[1] && g?.[1]) ports = { connect: Number(c[1]), grpc: Number(g[1]) };
  }
  if (ports === undefined) throw new Error("server did not start");
  let offset = (await stat(logPath)).size;
  return {
    ...ports,
    async cpuMs() {
      // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name): utime, stime in ticks.
      const stat = await readFile(`/proc/${child.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    },
    async calls(method, transport) {
      const size = (await stat(logPath)).size;
      const handle = await open(logPath, "r");
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(size - offset), 0, size - offset, offset);
      await handle.close();
      offset = size;
      let ok = 0;
      let other = 0;
      for (const line of buffer.subarray(0, bytesRead).toString("utf8").split("\n")) {
        if (!line.includes(`"method":"${method}"`) || !line.includes(`"transport":"${transport}"`) || !line.includes('"msg":"rpc"')) continue;
        if (line.includes('"code":"OK"')) ok++;
        else other++;
      }
      return { ok, other };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("close", () => void log.close().then(() => resolve()));
        child.kill("SIGTERM");
      }),
  };
}

async function startAnchors(reply: Buffer, json: string) {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench/ratios-anchors.ts"), reply.toString("base64"), json], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ports = await new Promise<{ grpc: number; http: number }>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /anchors (\d+) (\d+)/.exec(out);
      if (m) resolve({ grpc: Number(m[1]), http: Number(m[2]) });
    });
    child.once("close", () => reject(new Error(`anchors exited:\n${out}`)));
  });
  return { ...ports, stop: () => new Promise<void>((r) => (child.once("close", () => r()), child.kill("SIGTERM"))) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Row {
  name: string;
  project: string;
  anchor: string;
  unit: string;
  goal: string;
  pairs: Array<{ project: number; anchor: number; cpuUs: number }>;
  /** "higher is better" ratio (project/anchor) unless inverted (latency: anchor/project is reported as project/anchor ≤ goal). */
  ratio: (p: { project: number; anchor: number }) => number;
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "altalune-ratios-"));
  const db = await startBenchDatabase();
  const sql = createPool(db.url, { max: 2 });
  await migrateUp(sql);
  await runPostMigrate(sql);
  const config = loadConfig({ LOG_LEVEL: "silent" });
  await seed(sql, createLogger({ level: "silent" }), config);
  const [admin] = await sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
  const [project] = await sql<{ public_id: string; id: string }[]>`select public_id, id from altalune_projects where is_default`;
  const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
  const issuer = await TestIssuer.start();
  const token = await issuer.token({ sub: admin!.public_id, perms: ["root"], expiresIn: 3600 });
  // Kept after the run (its path is printed), for bench/profile-share.ts by hand.
  const profileDir = values.profile ? await mkdtemp(join(tmpdir(), "altalune-ratios-profile-")) : undefined;
  const serverStarted = performance.now();
  const server = await startServer(db.url, issuer.url, dir, profileDir);

  // One employee to read (created through the API, like any other).
  const baseUrl = `http://127.0.0.1:${server.connect}/api`;
  const interceptors: Interceptor[] = [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))];
  const employees = createClient(EmployeeService, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors }));
  const created = await employees.createEmployee({
    projectId: project!.public_id,
    name: "Ratio Bench",
    email: `ratio-${Date.now()}@example.com`,
    role: "Engineer",
    department: "Platform",
    status: EmployeeStatus.ACTIVE,
  });
  const employeeId = created.employee!.id;

  // The anchors answer exactly what the project answers.
  const configJson = await (await fetch(`${baseUrl}/altalune.v1.ConfigService/GetPublicConfig`, {
    method: "POST", headers: { "content-type": "application/json" }, body: "{}",
  })).text();
  const reply = Buffer.from(toBinary(GetPublicConfigResponseSchema, create(GetPublicConfigResponseSchema, {
    branding: { dashboardName: config.branding.dashboardName, authServerName: config.branding.authServerName },
  })));
  const anchors = await startAnchors(reply, configJson);

  const files = {
    configGrpc: join(dir, "config.grpc"),
    configJson: join(dir, "config.json"),
    employeeGrpc: join(dir, "employee.grpc"),
    pgbench: join(dir, "get-employee.sql"),
  };
  await writeFile(files.configGrpc, grpcFrame(GetPublicConfigRequestSchema, {}));
  await writeFile(files.configJson, "{}");
  await writeFile(files.employeeGrpc, grpcFrame(GetEmployeeRequestSchema, { projectId: project!.public_id, employeeId }));
  // The two statements GetEmployee ran when issue 13 was filed (ProjectRepo.resolve, EmployeeRepo.get).
  await writeFile(files.pgbench, [
    "select id as project_row_id from altalune_projects where public_id = :project \\gset",
    "select public_id, name, email, role, department, status, created_at, updated_at from altalune_example_employees where project_id = :project_row_id and public_id = :employee;",
    "",
  ].join("\n"));

  const grpcHeaders = ["content-type: application/grpc", "te: trailers"];
  const auth = `authorization: Bearer ${token}`;
  const h2 = { connections: 4, streams: CONCURRENCY / 4 };
  // A project run: the server's CPU per call ((CPU used during the run) / (calls it logged, warm-up
  // included)) and, on the gRPC port, the check that every call h2load counted ended OK.
  const projectRun = async (method: string, transport: string, load: () => Promise<LoadResult>) => {
    await server.calls(method, transport);
    const before = await server.cpuMs();
    const r = await load();
    const used = (await server.cpuMs()) - before;
    const { ok, other } = await server.calls(method, transport);
    if (transport === "grpc-js" && (other > 0 || ok < r.succeeded)) {
      throw new Error(`${method}: h2load counted ${r.succeeded} calls, the server logged ${ok} OK and ${other} others`);
    }
    return { ...r, cpuUs: (used * 1000) / Math.max(1, ok + other) };
  };
  const configOnGrpc = `http://127.0.0.1:${server.grpc}/altalune.v1.ConfigService/GetPublicConfig`;
  const configOnAnchor = `http://127.0.0.1:${anchors.grpc}/altalune.v1.ConfigService/GetPublicConfig`;
  const configOnConnect = `${baseUrl}/altalune.v1.ConfigService/GetPublicConfig`;
  const configOnHttp = `http://127.0.0.1:${anchors.http}/altalune.v1.ConfigService/GetPublicConfig`;
  const employeeOnGrpc = `http://127.0.0.1:${server.grpc}/altalune.v1.EmployeeService/GetEmployee`;

  // postgres.js alone, one call at a time: the two statements back to back.
  const sequentialPostgresJs = async (): Promise<number> => {
    const end = performance.now() + SECONDS * 1000;
    let n = 0;
    const started = performance.now();
    while (performance.now() < end) {
      const [p] = await sql<{ id: string }[]>`select id from altalune_projects where public_id = ${project!.public_id}`;
      await sql`select public_id, name, email, role, department, status, created_at, updated_at from altalune_example_employees where project_id = ${p!.id} and public_id = ${employeeId}`;
      n++;
    }
    return (performance.now() - started) / n;
  };

  const rows: Array<Row & { warm: () => Promise<unknown>; measure: () => Promise<{ project: number; anchor: number; cpuUs: number }> }> = [
    {
      name: "trivial RPC, gRPC port (grpc-js)", project: "ConfigService/GetPublicConfig on :3101", anchor: "bare grpc-js server, same path, fixed reply",
      unit: "calls/s", goal: "≥ 0.8", pairs: [], ratio: (p) => p.project / p.anchor,
      warm: () => h2load(configOnGrpc, { body: files.configGrpc, headers: grpcHeaders, ...h2, seconds: WARM_SECONDS }),
      measure: async () => {
        const anchor = await h2load(configOnAnchor, { body: files.configGrpc, headers: grpcHeaders, ...h2 });
        const own = await projectRun("GetPublicConfig", "grpc-js", () => h2load(configOnGrpc, { body: files.configGrpc, headers: grpcHeaders, ...h2 }));
        return { project: own.perSecond, anchor: anchor.perSecond, cpuUs: own.cpuUs };
      },
    },
    {
      name: "trivial RPC, Connect JSON over HTTP/1.1", project: "same RPC on :3100", anchor: "bare node:http, same JSON body",
      unit: "calls/s", goal: "≥ 0.25", pairs: [], ratio: (p) => p.project / p.anchor,
      warm: () => h2load(configOnConnect, { body: files.configJson, headers: ["content-type: application/json"], h1: true, connections: CONCURRENCY, streams: 1, seconds: WARM_SECONDS }),
      measure: async () => {
        const anchor = await h2load(configOnHttp, { body: files.configJson, headers: ["content-type: application/json"], h1: true, connections: CONCURRENCY, streams: 1 });
        const own = await projectRun("GetPublicConfig", "connect", () => h2load(configOnConnect, { body: files.configJson, headers: ["content-type: application/json"], h1: true, connections: CONCURRENCY, streams: 1 }));
        return { project: own.perSecond, anchor: anchor.perSecond, cpuUs: own.cpuUs };
      },
    },
    {
      name: "GetEmployee, gRPC port, warm JWT", project: "EmployeeService/GetEmployee on :3101", anchor: `pgbench -M prepared -c ${CONCURRENCY}, the two statements`,
      unit: "calls/s vs tps", goal: "≥ 0.5", pairs: [], ratio: (p) => p.project / p.anchor,
      warm: () => h2load(employeeOnGrpc, { body: files.employeeGrpc, headers: [...grpcHeaders, auth], ...h2, seconds: WARM_SECONDS }),
      measure: async () => {
        const anchor = await pgbench(db.url, files.pgbench, { project: project!.public_id, employee: employeeId });
        const own = await projectRun("GetEmployee", "grpc-js", () => h2load(employeeOnGrpc, { body: files.employeeGrpc, headers: [...grpcHeaders, auth], ...h2 }));
        return { project: own.perSecond, anchor, cpuUs: own.cpuUs };
      },
    },
    {
      name: "GetEmployee one at a time (mean latency)", project: "GetEmployee on :3101, 1 call in flight", anchor: "postgres.js alone, the two statements",
      unit: "ms", goal: "≤ 2", pairs: [], ratio: (p) => p.project / p.anchor,
      warm: () => h2load(employeeOnGrpc, { body: files.employeeGrpc, headers: [...grpcHeaders, auth], connections: 1, streams: 1, seconds: 1 }),
      measure: async () => {
        const anchor = await sequentialPostgresJs();
        const own = await projectRun("GetEmployee", "grpc-js", () => h2load(employeeOnGrpc, { body: files.employeeGrpc, headers: [...grpcHeaders, auth], connections: 1, streams: 1 }));
        return { project: own.meanMs, anchor, cpuUs: own.cpuUs };
      },
    },
  ];
  const only = values.only?.split(",").map(Number);
  const selected = rows.filter((_, i) => only === undefined || only.includes(i + 1));

  /** Per row: seconds since the server started, from its first pair to its last (the profile's window). */
  const windows = new Map<string, { from: number; to: number }>();
  let profileLines: string[] = [];
  try {
    for (const row of selected) {
      // The server's code paths for this call get compiled before anything is counted.
      await row.warm();
      const from = (performance.now() - serverStarted) / 1000;
      for (let i = 0; i < PAIRS; i++) {
        const pair = await row.measure();
        row.pairs.push(pair);
        process.stderr.write(`${row.name}: project ${pair.project.toFixed(2)} ${row.unit}, anchor ${pair.anchor.toFixed(2)} → ${row.ratio(pair).toFixed(3)}; server CPU ${pair.cpuUs.toFixed(0)} µs/call\n`);
      }
      windows.set(row.name, { from, to: (performance.now() - serverStarted) / 1000 });
    }
  } finally {
    await anchors.stop();
    await server.stop();
    if (profileDir !== undefined) profileLines = await profileTable(profileDir, selected.map((r) => r.name), windows);
    await issuer.close();
    await sql.end();
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const f = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toFixed(2));
  const lines = [
    sectionHeading("Ratios: the call path vs its parts (issue 13)", version?.v ?? "?"),
    "",
    `\`pnpm bench:ratios\` — \`altalune serve\` in its default configuration (access log at info to a file, validation on, root JWT warm in the verification cache); h2load (1 thread) with ${CONCURRENCY} calls in flight (gRPC: 4 connections × ${CONCURRENCY / 4} streams; HTTP/1.1: ${CONCURRENCY} connections), ${SECONDS} s per run after 1 s warm-up (and ${WARM_SECONDS} s of the row's call before its first pair); ${PAIRS} interleaved anchor/project pairs per row, ratio = median of the pair ratios. Every gRPC call counted was logged OK by the server.`,
    "",
    "| call | project (median) | anchor in the same run (median) | unit | ratio (median of pairs) | pair ratios | goal | server CPU per call (median) |",
    "|---|---:|---:|---|---:|---|---|---:|",
    ...selected.map((r) => {
      const ratios = r.pairs.map(r.ratio);
      return `| ${r.name}: ${r.project} | ${f(median(r.pairs.map((p) => p.project)))} | ${r.anchor}: ${f(median(r.pairs.map((p) => p.anchor)))} | ${r.unit} | **${median(ratios).toFixed(3)}** | ${ratios.map((x) => x.toFixed(2)).join(", ")} | ${r.goal} | ${Math.round(median(r.pairs.map((p) => p.cpuUs)))} µs |`;
    }),
  ];
  if (profileLines.length > 0) {
    lines[2] = `${lines[2]} **Run under \`--profile\`: the server ran under \`node --cpu-prof\`, so these ratios are not comparable with a plain run.**`;
    lines.push("", ...profileLines);
  }
  if (values["no-publish"]) process.stdout.write(`${lines.join("\n")}\n`);
  else await publish(lines);
}

/**
 * Where the server's CPU goes, per row: the self samples (innermost frame) of each part, as % of
 * the busy samples while the row's project runs were going (its anchor runs leave the server idle,
 * and idle samples are not counted). "ours" is every file of apps/ and packages/ outside
 * node_modules; the other parts are the libraries and runtime it runs on.
 */
async function profileTable(profileDir: string, rowNames: string[], windows: Map<string, { from: number; to: number }>): Promise<string[]> {
  // The main thread's profile (thread 0); workers (pino's transport, if any) write their own.
  const file = (await readdir(profileDir)).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (file === undefined) throw new Error(`no main-thread profile in ${profileDir}`);
  const profile = JSON.parse(await readFile(join(profileDir, file), "utf8"));
  const esc = root.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const parts = [
    `ours=/^file:\/\/${esc}(apps|packages)\/(?!.*\/node_modules\/)/`,
    // The package's own directory: pnpm's store path of connect-node names protobuf-es too.
    "connect-es=/\/node_modules\/@connectrpc\//",
    "protobuf-es=/\/node_modules\/@bufbuild\//",
    "grpc-js=/\/node_modules\/@grpc\//",
    "postgres.js=/\/node_modules\/postgres\//",
    "pino=/\/node_modules\/(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|safe-stable-stringify)\//",
    "jose=/\/node_modules\/jose\//",
    "Node's JS (node:)=/^node:/",
    "V8 / native (GC, builtins)=/^$/",
  ].map(parsePattern);
  const header = ["call", ...parts.map((p) => p.label), "other", "busy samples"];
  const notes: string[] = [];
  const out = [
    `Where the server's CPU goes (\`--profile\`): self samples of each part as % of the server's busy samples during the row's project runs (innermost frame; \`bench/profile-share.ts\` on ${file}). The largest own functions per row are listed below the table.`,
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---:").join("|")}|`,
  ];
  for (const name of rowNames) {
    const w = windows.get(name);
    if (w === undefined) continue;
    const shares = profileShares(file, profile, parts, { from: w.from + 0.5, to: w.to - 0.5 });
    const counted = shares.patterns.reduce((n, p) => n + p.selfSamples, 0);
    const other = shares.busySamples === 0 ? 0 : (100 * (shares.busySamples - counted)) / shares.busySamples;
    out.push(`| ${name} | ${shares.patterns.map((p) => `${p.selfPercentOfBusy.toFixed(1)} %`).join(" | ")} | ${other.toFixed(1)} % | ${shares.busySamples} |`);
    const own = profileShares(file, profile, [parts[0]!], { from: w.from + 0.5, to: w.to - 0.5, top: 200 });
    const top = own.topFunctions
      .filter((f) => f.selfSamples > 0)
      .sort((a, b) => b.selfSamples - a.selfSamples)
      .slice(0, 6)
      .map((f) => `\`${f.function}\` ${f.location.replace(`file://${root}`, "").replace(/:\d+$/, "")} ${f.selfPercentOfBusy.toFixed(1)} %`);
    notes.push(`- ${name}: ${top.join(", ")}`);
  }
  process.stderr.write(`profile kept in ${profileDir}\n`);
  return [...out, "", "Our largest functions by self samples (% of busy):", ...notes];
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
