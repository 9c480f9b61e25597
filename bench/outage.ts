// Behaviour of the Resources API through a database outage. A real server process
// (`altalune serve`) over its own embedded PostgreSQL takes Connect JSON load (4 readers calling
// GetProject, 2 writers calling CreateEmployee, each call abandoned after 1.5 s without an
// answer); the database is stopped (fast shutdown) for 6 s and started again — or, with
// --via proxy (needed for a given DATABASE_URL, which is never stopped), a TCP proxy between
// server and database refuses and cuts connections for 6 s. Prints a timeline of codes per 500 ms
// and the recovery times, checks that every acknowledged write is stored exactly once, and with
// --publish appends it to bench/RESULTS.md.
// Run: pnpm exec tsx bench/outage.ts [--via stop|proxy] [--outage-seconds 6] [--publish] [--label text]
import { parseArgs } from "node:util";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool, migrateUp, runPostMigrate } from "@altalune/db";
import { EmployeeService, EmployeeStatus, ProjectService } from "@altalune/proto";
import { seed } from "@altalune/resources";
import { READY, startRestartablePostgres, startServerProcess, TcpProxy, TestIssuer } from "@altalune/resources/testing";
import { publish, sectionHeading } from "./support.js";

const { values } = parseArgs({
  options: {
    via: { type: "string", default: "stop" },
    "outage-seconds": { type: "string", default: "6" },
    publish: { type: "boolean", default: false },
    label: { type: "string", default: "" },
  },
});
const OUTAGE_MS = Number(values["outage-seconds"]) * 1000;
const BEFORE_MS = 3000;
const AFTER_MS = 8000;
const BUCKET_MS = 500;
const CALL_TIMEOUT_MS = 1500;
const READERS = 4;
const WRITERS = 2;

async function startServer(databaseUrl: string, issuer: string) {
  const server = await startServerProcess(["serve"], { DATABASE_URL: databaseUrl, LOG_LEVEL: "silent", AUTH_ISSUER: issuer }, [READY.resources]);
  return { port: Number(new URL(server.found[0]!).port), stop: async () => void (await server.stop()) };
}

interface Sample {
  kind: "read" | "write";
  /** ms since the run started, when the call was sent. */
  at: number;
  ms: number;
  code: string;
}

function codeOf(e: unknown, aborted: boolean): string {
  if (aborted) return "no answer";
  if (e instanceof ConnectError) return Code[e.code].replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
  return "client error";
}

async function main() {
  const given = process.env["DATABASE_URL"];
  const pg = given === undefined ? await startRestartablePostgres() : undefined;
  const viaProxy = values.via === "proxy" || pg === undefined;
  const directUrl = given ?? pg!.url;
  const target = new URL(directUrl);
  const proxy = viaProxy ? await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) }) : undefined;
  const sql = createPool(directUrl, { max: 2 });
  await migrateUp(sql);
  await runPostMigrate(sql);
  const config = loadConfig({ LOG_LEVEL: "silent" });
  await seed(sql, createLogger({ level: "silent" }), config);
  const [admin] = await sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
  const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
  await sql.end();
  const issuer = await TestIssuer.start();
  const token = await issuer.token({ sub: admin!.public_id, perms: ["root"], expiresIn: 3600 });
  const server = await startServer(proxy ? proxy.urlFor(directUrl) : directUrl, issuer.url);
  const baseUrl = `http://127.0.0.1:${server.port}/api`;
  const interceptors: Interceptor[] = [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))];
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors });
  const projects = createClient(ProjectService, transport);
  const employees = createClient(EmployeeService, transport);
  const project = (await projects.createProject({ name: `Outage ${Date.now()}`, timezone: "UTC", environment: "sandbox" })).project!;

  const samples: Sample[] = [];
  const acknowledged: string[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const end = BEFORE_MS + OUTAGE_MS + AFTER_MS;
  let seq = 0;
  const timed = async (kind: Sample["kind"], call: (signal: AbortSignal) => Promise<unknown>) => {
    const at = now();
    const signal = AbortSignal.timeout(CALL_TIMEOUT_MS);
    let code = "ok";
    try {
      await call(signal);
    } catch (e) {
      code = codeOf(e, signal.aborted);
      // Without an answer a client waits out its own timeout before trying again.
    }
    samples.push({ kind, at, ms: now() - at, code });
    return code;
  };
  const reader = async () => {
    while (now() < end) await timed("read", (signal) => projects.getProject({ id: project.id }, { signal }));
  };
  const writer = async (w: number) => {
    while (now() < end) {
      const email = `w${w}-${seq++}@outage.bench`;
      const code = await timed("write", (signal) =>
        employees.createEmployee(
          { projectId: project.id, name: "Outage Writer", email, role: "Engineer", department: "Bench", status: EmployeeStatus.ACTIVE },
          { signal },
        ),
      );
      if (code === "ok") acknowledged.push(email);
      // A failed call is retried after a short pause, as a client would.
      else await new Promise((r) => setTimeout(r, 50));
    }
  };
  const outage = async () => {
    await new Promise((r) => setTimeout(r, BEFORE_MS));
    const down = now();
    if (proxy) {
      await proxy.setMode("refuse");
      proxy.cut();
    } else await pg!.stop();
    const stopped = now();
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (stopped - down))));
    if (proxy) await proxy.setMode("forward");
    else await pg!.start();
    return { down, up: now() };
  };
  const [events] = await Promise.all([outage(), ...Array.from({ length: READERS }, reader), ...Array.from({ length: WRITERS }, (_, i) => writer(i))]);

  // Timeline.
  const codes = [...new Set(samples.map((s) => s.code))].sort((a, b) => (a === "ok" ? -1 : b === "ok" ? 1 : a.localeCompare(b)));
  const lines: string[] = [];
  lines.push(`| t (s) | db | ${codes.join(" | ")} |`, `|---:|---|${codes.map(() => "---:").join("|")}|`);
  for (let b = 0; b * BUCKET_MS < end; b++) {
    const from = b * BUCKET_MS;
    const inBucket = samples.filter((s) => s.at >= from && s.at < from + BUCKET_MS);
    const db = from + BUCKET_MS <= events.down ? "up" : from >= events.up ? "up" : "DOWN";
    lines.push(`| ${(from / 1000).toFixed(1)} | ${db} | ${codes.map((c) => inBucket.filter((s) => s.code === c).length).join(" | ")} |`);
  }
  // Recovery: from the database accepting connections to the first success, and to the point
  // after which ≥ 95 % of the calls sent in every 500 ms window succeeded.
  const firstOk = (kind: Sample["kind"]) => samples.find((s) => s.kind === kind && s.code === "ok" && s.at >= events.up);
  const steadyFrom = (() => {
    for (let from = events.up; from < end; from += 100) {
      let ok = true;
      for (let w = from; w < end - BUCKET_MS && ok; w += BUCKET_MS) {
        const win = samples.filter((s) => s.at >= w && s.at < w + BUCKET_MS);
        ok = win.length > 0 && win.filter((s) => s.code === "ok").length / win.length >= 0.95;
      }
      if (ok) return from;
    }
    return undefined;
  })();
  const during = samples.filter((s) => s.at >= events.down && s.at < events.up);
  const slowDuring = during.filter((s) => s.ms > 1000).length;
  const fmt = (s: Sample | undefined) => (s === undefined ? "never" : `${Math.round(s.at - events.up)} ms`);

  // Every acknowledged write is stored exactly once; unacknowledged ones may or may not be.
  const check = createPool(directUrl, { max: 1 });
  const rows = await check<{ email: string; n: number }[]>`
    select email, count(*)::int as n from altalune_example_employees where email like '%@outage.bench' group by email`;
  await check.end();
  const stored = new Map(rows.map((r) => [r.email, r.n]));
  const lost = acknowledged.filter((e) => stored.get(e) !== 1).length;
  const twice = rows.filter((r) => r.n > 1).length;
  const summary = [
    `- outage: ${values.via === "proxy" || proxy ? "proxy refusing and cutting connections" : "PostgreSQL fast shutdown, then start"} from ${(events.down / 1000).toFixed(2)} s to ${(events.up / 1000).toFixed(2)} s (accepting connections again)`,
    `- calls sent during the outage: ${during.length}; answered in over 1 s or not at all: ${slowDuring}; internal: ${during.filter((s) => s.code === "internal").length}`,
    `- first successful read after the database was back: ${fmt(firstOk("read"))}; first successful write: ${fmt(firstOk("write"))}`,
    `- ≥ 95 % of calls succeed in every 500 ms window from: ${steadyFrom === undefined ? "never" : `${Math.round(steadyFrom - events.up)} ms`} after the database was back`,
    `- acknowledged writes: ${acknowledged.length}; lost: ${lost}; stored twice: ${twice}`,
  ];
  const heading = sectionHeading(`Database outage (${OUTAGE_MS / 1000} s) under load${values.label ? ` — ${values.label}` : ""}`, version?.v ?? "?");
  const intro = `Client and server (\`altalune serve\`) in separate processes; Connect JSON over HTTP/1.1, ${READERS} readers (GetProject), ${WRITERS} writers (CreateEmployee); a call without an answer within ${CALL_TIMEOUT_MS} ms counts as "no answer". Counts per code of the calls sent in each ${BUCKET_MS} ms.`;
  const out = [heading, "", intro, "", ...summary, "", ...lines];
  if (values.publish) await publish(out);
  else process.stdout.write(out.join("\n") + "\n");

  await server.stop();
  await issuer.close();
  await proxy?.close();
  await pg?.destroy();
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
