// Overload: what MAX_CALLS_IN_FLIGHT buys. A real `altalune serve` process over its own database
// answers GetProject (one indexed read, root token) over Connect JSON on HTTP/2 (h2c, loopback).
// 1. Capacity: closed loops at 1, 2, 4 … --concurrency (default 16) calls in flight → throughput R
//    (the most answered), the knee (the fewest calls in flight reaching 90 % of R), p99 at --concurrency.
// 2. Sustainable rate S: the highest open-loop rate from 0.8 R down whose p99 stays within 2 × the closed loop's.
// 3. Overload: a server with MAX_CALLS_IN_FLIGHT = --limit (default: the knee, see
//    docs/operations.md), open loop at 4 S for 5 s (a bounded count):
//    p99 of the admitted calls, share refused (resource_exhausted, HTTP 429).
// The same run without the limit (MAX_CALLS_IN_FLIGHT=100000) shows what the limit prevents.
// --target auth does the same for the auth server (`altalune serve-auth`, HTTP/1.1; its open loops
// paced by this script, see `paced`): a machine
// client's client_credentials token request, refused with 503 + Retry-After beyond the limit. The
// run raises only TOKEN_RATE_LIMIT_PER_MINUTE (its documented variable: all its load comes from
// one address and one client).
// 4. --pairs (default 5) interleaved pairs of the sustainable rate and 4 × it (the limited server);
//    the result is the median of the pairs' p99 ratios.
// Run: pnpm exec tsx bench/overload.ts [--target api|auth] [--concurrency 16] [--limit N] [--pairs 5] [--publish]
import { spawn } from "node:child_process";
import { Agent, request as httpRequest } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool, migrateUp, runPostMigrate } from "@altalune/db";
import { seed } from "@altalune/resources";
import { createClient, freePort, TEST_API_AUDIENCE, TEST_ENCRYPTION_KEY } from "@altalune/auth/testing";
import { READY, startServerProcess, TestIssuer } from "@altalune/resources/testing";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "16" },
    limit: { type: "string" },
    seconds: { type: "string", default: "5" },
    pairs: { type: "string", default: "5" },
    publish: { type: "boolean", default: false },
    target: { type: "string", default: "api" },
  },
});
if (values.target !== "api" && values.target !== "auth") throw new Error("--target must be api or auth");
const TARGET = values.target;
/** The status of a refusal: ResourceExhausted over Connect (HTTP 429) on the API, 503 on the auth server. */
const REFUSED_STATUS = TARGET === "api" ? 429 : 503;
const TOKEN_RATE_LIMIT_PER_MINUTE = 100_000; // its maximum
const CONCURRENCY = Number(values.concurrency);
const PHASE_MS = Number(values.seconds) * 1000;
const PAIRS = Number(values.pairs);
const root = fileURLToPath(new URL("..", import.meta.url));

async function startServer(databaseUrl: string, issuer: string, maxInFlight: number) {
  // METRICS_PORT 0: the interleaved pairs run two servers at once.
  const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: "silent", AUTH_ISSUER: issuer, MAX_CALLS_IN_FLIGHT: String(maxInFlight), SHUTDOWN_DRAIN_MS: "0", METRICS_PORT: "0" };
  const server = await startServerProcess(["serve"], env, [READY.resources]);
  return { port: Number(new URL(server.found[0]!).port), stop: async () => void (await server.stop()) };
}

/** `altalune serve-auth` in its default configuration but the token rate limit (see the header). */
async function startAuthServer(databaseUrl: string, maxInFlight: number) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  // SERVER_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env["SERVER_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(root, "apps/cli/src/main.ts"), "serve-auth"], {
    env: {
      PATH: process.env["PATH"],
      HOME: process.env["HOME"],
      DATABASE_URL: databaseUrl,
      DATA_DIR: join(tmpdir(), `altalune-overload-auth-${process.pid}`),
      LOG_LEVEL: "silent",
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"),
      API_AUDIENCE: TEST_API_AUDIENCE,
      AUTH_PORT: String(port),
      AUTH_ISSUER: issuer,
      AUTH_METRICS_PORT: "0",
      MAX_CALLS_IN_FLIGHT: String(maxInFlight),
      SHUTDOWN_DRAIN_MS: "0",
      TOKEN_RATE_LIMIT_PER_MINUTE: String(TOKEN_RATE_LIMIT_PER_MINUTE),
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  let exited = false;
  child.once("close", () => (exited = true));
  for (let i = 0; !(await fetch(`${issuer}/readyz`).then((r) => r.ok, () => false)); i++) {
    if (exited || i > 600) throw new Error("auth server did not become ready");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, stop: () => new Promise<void>((r) => (exited ? r() : (child.once("close", () => r()), child.kill("SIGTERM")))) };
}

interface Result {
  ms: number;
  status: number;
}

const H2LOAD_HINT = "h2load is not installed: apt-get install -y nghttp2-client (.ci/run does this)";

/**
 * h2load (nghttp2, C) generates the load (but the HTTP/1.1 open loops, see `paced`): a Node client on the same 2-core machine saturated
 * before the server did. Its per-request log gives every call's status and latency. With --rps
 * and enough streams per connection (-m) it sends on schedule whether or not answers came back
 * (open loop); with -m small and no --rps it is a closed loop of c × m calls.
 */
interface Request {
  url: string;
  bodyFile: string;
  headers: string[];
  /** HTTP/1.1 (the auth server); the API is called over h2c. */
  h1: boolean;
}

interface Load {
  total: number;
  connections: number;
  streams: number;
  rps?: number;
}

/** An open loop over HTTP/1.1 is paced here (see `paced`); everything else is h2load's. */
const load = (req: Request, spec: Load) => (req.h1 && spec.rps !== undefined ? paced(req, spec.rps, spec.total) : h2load(req, spec));

/**
 * An HTTP/1.1 open loop at an even pace: request i is sent at i / rps s whether or not earlier
 * ones were answered, each on a free keep-alive connection (a new one when none is free).
 * h2load cannot do this: its --rps paces each connection on its own timer, the timers of all
 * connections fire together, and with one request in flight per HTTP/1.1 connection the "open
 * loop" arrives as bursts of one request per connection (256 at once every 0.6 s at 400/s),
 * which a limit of 16 in flight refuses for the burst, not for the rate. The auth server's
 * rates (hundreds per second) leave this Node client most of a core.
 */
const PACED_CONNECTIONS = 256;

async function paced(req: Request, rps: number, total: number) {
  const body = await readFile(req.bodyFile);
  const url = new URL(req.url);
  const headers = Object.fromEntries(req.headers.map((h) => [h.slice(0, h.indexOf(":")).trim(), h.slice(h.indexOf(":") + 1).trim()]));
  // A client that keeps its connections, as a service calling the token endpoint does: opened
  // before the clock starts, and never more (a request finding them all busy waits in the agent,
  // which is this client's queue, not the server's: it is timed from when a connection is free).
  const agent = new Agent({ keepAlive: true, maxSockets: PACED_CONNECTIONS });
  let results: Result[] = [];
  const send = () =>
    new Promise<void>((resolve) => {
      // Timed from when the request can leave on a connected socket, as h2load times a stream:
      // the server's answer, not this client's connection set-up.
      let t0 = performance.now();
      const done = (status: number) => (results.push({ status, ms: performance.now() - t0 }), resolve());
      const r = httpRequest(url, { method: "POST", agent, headers: { ...headers, "content-length": String(body.length) } }, (res) => {
        res.resume();
        res.once("end", () => done(res.statusCode ?? 0));
        res.once("error", () => done(0));
      });
      r.once("error", () => done(0));
      r.once("socket", (socket) => {
        t0 = performance.now();
        if (socket.connecting) socket.once("connect", () => (t0 = performance.now()));
      });
      r.end(body);
    });
  await Promise.all(Array.from({ length: PACED_CONNECTIONS }, send));
  await new Promise((r) => setTimeout(r, 500));
  results = [];
  // This client's own event-loop stalls (its GC, the 2 cores it shares): a stall delays sends and
  // then sends the backlog at once, which shows up as server latency. Reported per phase.
  const stalls = monitorEventLoopDelay({ resolution: 5 });
  stalls.enable();
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rps) / 1000) + 1);
    while (sent < due) (pending.push(send()), sent++);
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const wallMs = performance.now() - started;
  agent.destroy();
  stalls.disable();
  return { ...summary(results, wallMs), offeredPerSecond: rps, clientStallMs: stalls.max / 1e6 };
}

async function h2load(req: Request, args: Load) {
  const logFile = join(tmpdir(), `altalune-h2load-${process.pid}-${Date.now()}.log`);
  const argv = [
    "-n", String(args.total), "-c", String(args.connections), "-m", String(args.streams),
    ...(args.rps === undefined ? [] : ["--rps", String(Math.max(1, Math.round(args.rps / args.connections)))]),
    ...(req.h1 ? ["--h1"] : []),
    "-d", req.bodyFile, ...req.headers.flatMap((h) => ["-H", h]),
    "--log-file", logFile, req.url,
  ];
  const started = performance.now();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("h2load", argv, { stdio: ["ignore", "ignore", "inherit"] });
    child.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "ENOENT" ? new Error(H2LOAD_HINT) : e));
    child.once("close", resolve);
  });
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`h2load exited ${code}`);
  const results: Result[] = (await readFile(logFile, "utf8"))
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [, status = "0", micros = "0"] = l.split("\t");
      return { status: Number(status), ms: Number(micros) / 1000 };
    });
  await rm(logFile, { force: true });
  return { ...summary(results, wallMs), offeredPerSecond: args.rps ?? Number.NaN, clientStallMs: Number.NaN };
}

type Phase = Awaited<ReturnType<typeof load>>;
/** The lower median. */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

function summary(results: Result[], wallMs: number) {
  const ok = results.filter((r) => r.status === 200).map((r) => r.ms).sort((a, b) => a - b);
  const refused = results.filter((r) => r.status === REFUSED_STATUS).length;
  const other = results.length - ok.length - refused;
  return {
    calls: results.length,
    okPerSecond: (ok.length / wallMs) * 1000,
    p50: quantile(ok, 0.5),
    p99: quantile(ok, 0.99),
    refusedShare: refused / Math.max(1, results.length),
    other,
  };
}

async function main() {
  const database = await startBenchDatabase();
  const sql = createPool(database.url, { max: 2 });
  await migrateUp(sql);
  await runPostMigrate(sql);
  const config = loadConfig({ LOG_LEVEL: "silent" });
  await seed(sql, createLogger({ level: "silent" }), config);
  const [admin] = await sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
  const [project] = await sql<{ public_id: string }[]>`select public_id from altalune_projects where is_default`;
  const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
  await sql.end();
  const dir = await mkdtemp(join(tmpdir(), "altalune-overload-"));
  const issuer = await TestIssuer.start();
  let request: Request;
  let start: (maxInFlight: number) => Promise<{ port: number; stop(): Promise<void> }>;
  if (TARGET === "api") {
    const token = await issuer.token({ sub: admin!.public_id, perms: ["root"], expiresIn: 3600 });
    const bodyFile = join(dir, "get-project.json");
    await writeFile(bodyFile, JSON.stringify({ id: project!.public_id }));
    request = { url: "/api/altalune.v1.ProjectService/GetProject", bodyFile, headers: ["content-type: application/json", `authorization: Bearer ${token}`], h1: false };
    start = (maxInFlight) => startServer(database.url, issuer.url, maxInFlight);
  } else {
    // A machine client of the default project: each call is a signed access token for it.
    const setup = createPool(database.url, { max: 1 });
    const client = await createClient(setup, { name: "Overload bench", allowedScopes: ["employee:read"] });
    await setup`
      insert into altalune_oauth_client_projects (client_id, project_id)
      select c.id, p.id from altalune_oauth_clients c, altalune_projects p where c.client_id = ${client.clientId} and p.is_default`;
    await setup.end();
    const bodyFile = join(dir, "token.form");
    await writeFile(bodyFile, "grant_type=client_credentials&scope=employee%3Aread");
    const basic = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64");
    request = { url: "/oauth/token", bodyFile, headers: ["content-type: application/x-www-form-urlencoded", `authorization: Basic ${basic}`], h1: true };
    start = (maxInFlight) => startAuthServer(database.url, maxInFlight);
  }
  // HTTP/1.1 has one call in flight per connection: its closed loop uses one connection per call
  // (its open loops are `paced`, on PACED_CONNECTIONS connections).
  const shape = {
    closed: request.h1 ? { connections: CONCURRENCY, streams: 1 } : { connections: 4, streams: CONCURRENCY / 4 },
    open: { connections: 4, streams: 256 },
    overload: { connections: 4, streams: 1024 },
  };

  const run = async <T>(maxInFlight: number, fn: (req: Request) => Promise<T>): Promise<T> => {
    const server = await start(maxInFlight);
    const req = { ...request, url: `http://127.0.0.1:${server.port}${request.url}` };
    try {
      await h2load(req, { total: 2000, ...shape.closed }); // warm-up (JIT, JWKS, pool)
      return await fn(req);
    } finally {
      await server.stop();
    }
  };
  const seconds = PHASE_MS / 1000;

  // Closed loops at 1, 2, 4 … --concurrency calls in flight: the process's capacity R (the most
  // it answered), and the knee, the fewest calls in flight at which it answers 90 % of R (more
  // only wait: see docs/operations.md). Then the highest open-loop rate (from 0.8 R down) whose p99
  // stays within 2 × the closed loop's at --concurrency: the sustainable rate.
  const closedShape = (c: number) => (request.h1 ? { connections: c, streams: 1 } : { connections: Math.min(4, c), streams: c / Math.min(4, c) });
  const levels = [1, 2, 4, 8, 16, 32, 64].filter((c) => c < CONCURRENCY).concat(CONCURRENCY);
  const { capacity, closed, baseline, sustainable } = await run(100_000, async (req) => {
    const closed: { concurrency: number; result: Awaited<ReturnType<typeof h2load>> }[] = [];
    for (const c of levels) closed.push({ concurrency: c, result: await h2load(req, { total: c === CONCURRENCY ? 4000 : 1500, ...closedShape(c) }) });
    const capacity = closed.at(-1)!.result;
    let rate = Math.round(capacity.okPerSecond * 0.8);
    let baseline = await load(req, { total: rate * seconds, ...shape.open, rps: rate });
    for (let i = 0; i < 4 && baseline.p99 > 2 * capacity.p99; i++) {
      rate = Math.round(rate * 0.75);
      baseline = await load(req, { total: rate * seconds, ...shape.open, rps: rate });
    }
    return { capacity, closed, baseline, sustainable: rate };
  });
  const most = Math.max(...closed.map((c) => c.result.okPerSecond));
  const knee = closed.find((c) => c.result.okPerSecond >= 0.9 * most)!.concurrency;
  // R × W (Little's law, W the median at --concurrency) for comparison: past the knee W already
  // includes queueing, so R × W overestimates the calls in flight the process can use.
  const littleLimit = Math.ceil((most * capacity.p50) / 1000);
  const limit = values.limit ? Number(values.limit) : Math.max(2, knee);
  const overload = { total: sustainable * 4 * seconds, ...shape.overload, rps: sustainable * 4 };
  // --pairs interleaved pairs, as bench:ratios does: the sustainable rate on a server without a
  // limit, then 4 × it on one with the limit, both started beforehand; the result is the median of
  // the pairs' p99 ratios (one 5 s phase's p99 is its 1 % worst calls: a single pair moves with
  // whatever else the shared machine does in those seconds).
  const pairs: { baseline: Phase; limited: Phase }[] = [];
  await run(100_000, (free) =>
    run(limit, async (capped) => {
      for (let i = 0; i < PAIRS; i++) pairs.push({ baseline: await load(free, { total: sustainable * seconds, ...shape.open, rps: sustainable }), limited: await load(capped, overload) });
    }),
  );
  const unlimited = await run(100_000, (req) => load(req, overload));
  const ratios = pairs.map((p) => p.limited.p99 / p.baseline.p99);
  await issuer.close();
  await database.stop();
  await rm(dir, { recursive: true, force: true });

  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
  const pct = (n: number) => `${(n * 100).toFixed(1)} %`;
  const out = [
    sectionHeading(
      TARGET === "api" ? "Overload: GetProject at 4 × the sustainable rate, MAX_CALLS_IN_FLIGHT" : "Overload of the auth server: client_credentials token requests at 4 × the sustainable rate, MAX_CALLS_IN_FLIGHT",
      version?.v ?? "?",
    ),
    "",
    TARGET === "api"
      ? `\`pnpm exec tsx bench/overload.ts\` — one \`altalune serve\` process, Connect JSON over h2c from h2load (4 connections), loopback, on the same machine; ${PHASE_MS / 1000} s per phase.`
      : `\`pnpm exec tsx bench/overload.ts --target auth\` — one \`altalune serve-auth\` process (default configuration but TOKEN_RATE_LIMIT_PER_MINUTE=${TOKEN_RATE_LIMIT_PER_MINUTE}), POST /oauth/token (client_credentials, HTTP Basic) over HTTP/1.1 (closed loop: h2load, ${CONCURRENCY} connections; open loops: the bench's own client sending at an even pace on ${PACED_CONNECTIONS} keep-alive connections opened beforehand, each call timed from when a connection is free — h2load's per-connection pacing sends HTTP/1.1 open loops in bursts), loopback; ${PHASE_MS / 1000} s per phase.`,
    "",
    `| phase | offered calls/s | admitted ok calls/s | p50 ms | p99 ms (admitted) | refused (${REFUSED_STATUS}) | other errors | client's longest stall, ms |`,
    "|---|---|---|---|---|---|---|---|",
    ...closed.map(
      ({ concurrency, result: r }) =>
        `| closed loop, ${concurrency} in flight${concurrency === knee ? " (the knee)" : ""} | – | ${f(r.okPerSecond)} | ${f(r.p50)} | ${f(r.p99)} | ${pct(r.refusedShare)} | ${r.other} | ${f(r.clientStallMs)} |`,
    ),
    `| sustainable: open loop (highest rate with p99 ≤ 2 × closed loop's) | ${f(baseline.offeredPerSecond)} | ${f(baseline.okPerSecond)} | ${f(baseline.p50)} | ${f(baseline.p99)} | ${pct(baseline.refusedShare)} | ${baseline.other} | ${f(baseline.clientStallMs)} |`,
    ...pairs.map(
      ({ baseline: b }, i) =>
        `| sustainable, pair ${i + 1} | ${f(b.offeredPerSecond)} | ${f(b.okPerSecond)} | ${f(b.p50)} | ${f(b.p99)} | ${pct(b.refusedShare)} | ${b.other} | ${f(b.clientStallMs)} |`,
    ),
    ...pairs.map(
      ({ limited: l }, i) =>
        `| 4 × sustainable, MAX_CALLS_IN_FLIGHT=${limit}, pair ${i + 1} | ${f(l.offeredPerSecond)} | ${f(l.okPerSecond)} | ${f(l.p50)} | ${f(l.p99)} | ${pct(l.refusedShare)} | ${l.other} | ${f(l.clientStallMs)} |`,
    ),
    `| 4 × sustainable, no effective limit | ${f(unlimited.offeredPerSecond)} | ${f(unlimited.okPerSecond)} | ${f(unlimited.p50)} | ${f(unlimited.p99)} | ${pct(unlimited.refusedShare)} | ${unlimited.other} | ${f(unlimited.clientStallMs)} |`,
    "",
    `Limit: ${values.limit ? "--limit" : "the knee"} (${limit}); R × W would be ${littleLimit}.`,
    "",
    `p99 of admitted calls at 4 × vs. at the sustainable rate, median of ${PAIRS} interleaved pairs: **${f(median(ratios))} ×** with the limit (goal ≤ 2 ×; the pairs: ${ratios.map(f).join(", ")}), ${f(unlimited.p99 / baseline.p99)} × without (against the first sustainable run).`,
  ];
  if (values.publish) await publish(out);
  else process.stdout.write(`${out.join("\n")}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
