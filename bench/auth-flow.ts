// Authorization server throughput (issue 13): the server alone on one core, the client in this
// process on the other.
//   (a) refresh-token rotations per second (refresh_token grant, confidential client, HTTP Basic);
//   (b) complete browser logins with consent per second: authorization request → login page →
//       email submitted → the code read from the mail the server sent to the SMTP receiver here →
//       code submitted → consent → callback → token exchange (openid-client and a no-JS browser).
// The server is `altalune serve-auth` in its default configuration (LOG_LEVEL=info, its log in a
// file, metrics on, rate limits counted in PostgreSQL), pinned with `taskset -c 0` when util-linux
// has it; this process pins itself to core 1, and so are the PostgreSQL backends serving the run's
// database (pinned before each measured phase, by pid): the server is alone on its core, as the
// goal states (`--postgres-unpinned` leaves them wherever the scheduler puts them, as runs before
// 2026-12-02 did). Its database is created for the run and dropped after it: on DATABASE_URL's
// server when set, else on a throwaway embedded PostgreSQL.
//
// Rate limits. Every login comes from its own loopback source address (127.1.x.y: all of
// 127.0.0.0/8 is the loopback interface), as every browser has its own, so the per-IP (20 codes /
// 15 min) and per-address login-code limits stay at their defaults and are counted as for real
// users. The refresh chains run at hundreds per second per (client, address), far above the
// default 120 per minute, so the run raises TOKEN_RATE_LIMIT_PER_MINUTE (its documented variable)
// and nothing else.
//
// Reported per phase: operations per second, p50/p99 latency, CPU per operation of the server
// (/proc/<pid>/stat before and after), of this client (process.cpuUsage) and of the PostgreSQL
// backends serving the server's pool, and how busy each core was. Appends to bench/RESULTS.md.
//   pnpm bench:auth-flow [--logins 400] [--login-concurrency 16] [--refresh-seconds 10]
//     [--refresh-concurrency 16] [--warmup 40] [--label text] [--no-publish] [--postgres-unpinned]
// SERVER_NODE_ARGS adds node flags to the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
import { AsyncLocalStorage } from "node:async_hooks";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as oidc from "openid-client";
import { createPool, migrateUp, quoteIdent, runPostMigrate, type Sql } from "@altalune/db";
import { createClient, createUser, freePort, startSmtpReceiver, TEST_API_AUDIENCE, TEST_ENCRYPTION_KEY, type SmtpReceiver, type TestClient } from "@altalune/auth/testing";
import { authorizationUrl, Browser, browserLogin, exchange, relyingParty } from "@altalune/auth/testing";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({
  options: {
    logins: { type: "string", default: "400" },
    "login-concurrency": { type: "string", default: "16" },
    "refresh-seconds": { type: "string", default: "10" },
    "refresh-concurrency": { type: "string", default: "16" },
    warmup: { type: "string", default: "40" },
    label: { type: "string", default: "" },
    "no-publish": { type: "boolean", default: false },
    "postgres-unpinned": { type: "boolean", default: false },
  },
});
const LOGINS = Number(values.logins);
const LOGIN_CONCURRENCY = Number(values["login-concurrency"]);
const REFRESH_SECONDS = Number(values["refresh-seconds"]);
const REFRESH_CONCURRENCY = Number(values["refresh-concurrency"]);
const WARMUP = Number(values.warmup);
/** Hard bound on the refresh phase whatever the rate. */
const MAX_REFRESHES = 200_000;
/** Enough for the refresh chains' rate over one minute (the limit's window). */
const TOKEN_RATE_LIMIT_PER_MINUTE = 100_000;
const root = fileURLToPath(new URL("..", import.meta.url));

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

// ---------------------------------------------------------------------------------------------
// Loopback source addresses: one per simulated browser.

/** The i-th browser's address, 127.1.1.1 onwards (never .0 or .255 in the last two bytes). */
function sourceAddress(i: number): string {
  return `127.1.${1 + Math.floor(i / 254)}.${1 + (i % 254)}`;
}

/** undici's Agent (the dispatcher behind Node's fetch), bound to one local address. */
interface Dispatcher {
  close(): Promise<void>;
}
type DispatcherClass = new (opts: { localAddress: string }) => Dispatcher;

/**
 * Node's fetch takes a `dispatcher` but Node does not export undici's Agent; the global one,
 * registered under undici's interop symbol after the first fetch, is an instance of it. Every
 * fetch of this process (the test browser's, openid-client's) goes out from the address of the
 * browser whose work it is part of (AsyncLocalStorage), or 127.0.0.1 outside one.
 */
function installSourceAddresses(): (address: string) => { run<T>(fn: () => Promise<T>): Promise<T>; close(): Promise<void> } {
  const global = (globalThis as Record<symbol, unknown>)[Symbol.for("undici.globalDispatcher.1")];
  const Agent = (global as { constructor?: unknown } | undefined)?.constructor as DispatcherClass | undefined;
  if (Agent === undefined || typeof Agent !== "function") throw new Error("this Node's fetch has no undici global dispatcher (make one fetch first)");
  const current = new AsyncLocalStorage<Dispatcher>();
  const baseFetch = globalThis.fetch;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const dispatcher = current.getStore();
    return baseFetch(input, dispatcher === undefined ? init : ({ ...init, dispatcher } as RequestInit));
  }) as typeof fetch;
  return (address) => {
    const agent = new Agent({ localAddress: address });
    return { run: (fn) => current.run(agent, fn), close: () => agent.close() };
  };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting.

const TICKS_PER_SECOND = 100;

/** utime + stime of a process in ms, or 0 when it is gone. */
async function processCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Busy and total ticks of each core (/proc/stat). */
async function coreTicks(): Promise<{ busy: number; total: number }[]> {
  const text = await readFile("/proc/stat", "utf8");
  return text
    .split("\n")
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const [, ...nums] = l.trim().split(/\s+/).map(Number);
      const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = nums;
      const busy = user + nice + system + irq + softirq + steal;
      return { busy, total: busy + idle + iowait };
    });
}

interface Sample {
  at: number;
  serverMs: number;
  clientMs: number;
  /** pid → CPU ms of the PostgreSQL backends connected to the bench database. */
  backends: Map<number, number>;
  cores: { busy: number; total: number }[];
}

interface Usage {
  seconds: number;
  serverMs: number;
  clientMs: number;
  postgresMs: number;
  /** Busy share of each core, 0..1. */
  cores: number[];
}

async function backendPids(admin: Sql, database: string): Promise<number[]> {
  const rows = await admin<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = ${database} and pid <> pg_backend_pid()`;
  return rows.map((r) => r.pid);
}

async function sample(server: ChildProcess, admin: Sql, database: string, known?: Sample): Promise<Sample> {
  const pids = new Set([...(known?.backends.keys() ?? []), ...(await backendPids(admin, database))]);
  const backends = new Map<number, number>();
  for (const pid of pids) backends.set(pid, await processCpuMs(pid));
  const cpu = process.cpuUsage();
  return { at: performance.now(), serverMs: await processCpuMs(server.pid!), clientMs: (cpu.user + cpu.system) / 1000, backends, cores: await coreTicks() };
}

/**
 * Moves the PostgreSQL backends serving the run's database to core 1 (the client's), so core 0 is
 * the server's alone. A backend the pool opens later is moved at the next call; returns how many
 * were moved.
 */
async function pinBackends(admin: Sql, database: string): Promise<number> {
  const pids = await backendPids(admin, database);
  for (const pid of pids) execFileSync("taskset", ["-p", "-c", "1", String(pid)], { stdio: "ignore" });
  return pids.length;
}

function usageBetween(a: Sample, b: Sample): Usage {
  let postgresMs = 0;
  // A backend that connected during the phase counts from 0; one that left is not seen at the end.
  for (const [pid, ms] of b.backends) postgresMs += ms - (a.backends.get(pid) ?? 0);
  return {
    seconds: (b.at - a.at) / 1000,
    serverMs: b.serverMs - a.serverMs,
    clientMs: b.clientMs - a.clientMs,
    postgresMs,
    cores: b.cores.map((c, i) => {
      const before = a.cores[i] ?? { busy: 0, total: 0 };
      return (c.busy - before.busy) / Math.max(1, c.total - before.total);
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// The database and the server.

/** A fresh database on DATABASE_URL's server (dropped by `stop`), else an embedded one. */
async function benchDatabase(): Promise<{ url: string; name: string; admin: Sql; stop(): Promise<void> }> {
  const base = await startBenchDatabase();
  const name = `altalune_bench_auth_${randomBytes(4).toString("hex")}`;
  const admin = createPool(base.url, { max: 2, applicationName: "altalune-bench-admin" });
  await admin.unsafe(`create database ${quoteIdent(name)}`);
  const url = new URL(base.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    admin,
    async stop() {
      await admin.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
      await admin.end({ timeout: 5 });
      await base.stop();
    },
  };
}

function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

interface ServerProcess {
  child: ChildProcess;
  logPath: string;
  stop(): Promise<number | null>;
}

async function startServer(opts: { databaseUrl: string; port: number; smtpUrl: string; dir: string; pin: boolean }): Promise<ServerProcess> {
  const logPath = join(opts.dir, "auth-server.log");
  const log = await open(logPath, "w");
  const nodeArgs = (process.env["SERVER_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
  const argv = [...nodeArgs, "--import", "tsx", join(root, "apps/cli/src/main.ts"), "serve-auth"];
  // Only what a deployment sets: where things are, the secret, the mail server; defaults otherwise.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    DATABASE_URL: opts.databaseUrl,
    DATA_DIR: join(opts.dir, "data"),
    LOG_LEVEL: "info",
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"),
    API_AUDIENCE: TEST_API_AUDIENCE,
    AUTH_PORT: String(opts.port),
    AUTH_ISSUER: `http://127.0.0.1:${opts.port}`,
    // Still served, on a free port: the default 9465 may be taken by another server on this machine.
    AUTH_METRICS_PORT: "0",
    SMTP_URL: opts.smtpUrl,
    TOKEN_RATE_LIMIT_PER_MINUTE: String(TOKEN_RATE_LIMIT_PER_MINUTE),
  };
  const child = opts.pin
    ? spawn("taskset", ["-c", "0", process.execPath, ...argv], { env, cwd: root, stdio: ["ignore", log.fd, log.fd] })
    : spawn(process.execPath, argv, { env, cwd: root, stdio: ["ignore", log.fd, log.fd] });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve((exitCode = code))));
  const issuer = `http://127.0.0.1:${opts.port}`;
  for (let i = 0; ; i++) {
    if (exitCode !== undefined) throw new Error(`auth server exited (${exitCode}):\n${await readFile(logPath, "utf8")}`);
    if (i > 600) throw new Error("auth server did not become ready in 60 s");
    const ready = await fetch(`${issuer}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    logPath,
    async stop() {
      if (exitCode === undefined) child.kill("SIGTERM");
      const code = await exited;
      await log.close();
      return code;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The two workloads.

interface Browse {
  run<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

interface LoginOutcome {
  refreshToken: string;
  ms: number;
}

async function oneLogin(rp: oidc.Configuration, client: TestClient, smtp: SmtpReceiver, issuer: string, email: string, from: Browse): Promise<LoginOutcome> {
  return from.run(async () => {
    const t = performance.now();
    const start = await authorizationUrl(rp, client, { scope: "openid profile email offline_access", prompt: "consent" });
    const { callback, consented } = await browserLogin(new Browser(issuer), smtp, start, email);
    if (!consented) throw new Error("no consent page was shown");
    const tokens = await exchange(rp, start, callback);
    if (tokens.refresh_token === undefined) throw new Error("the token exchange returned no refresh token");
    return { refreshToken: tokens.refresh_token, ms: performance.now() - t };
  });
}

/** `count` logins of users[offset…], `concurrency` at a time; the browsers of the first `keep` stay open. */
async function loginPhase(
  ctx: { rp: oidc.Configuration; client: TestClient; smtp: SmtpReceiver; issuer: string; users: string[]; browse: (address: string) => Browse },
  offset: number,
  count: number,
  concurrency: number,
  keep: number,
): Promise<{ ms: number[]; kept: { browse: Browse; refreshToken: string }[] }> {
  const ms: number[] = [];
  const kept: { browse: Browse; refreshToken: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const browse = ctx.browse(sourceAddress(offset + i));
        const out = await oneLogin(ctx.rp, ctx.client, ctx.smtp, ctx.issuer, ctx.users[offset + i]!, browse);
        ms.push(out.ms);
        if (kept.length < keep) kept.push({ browse, refreshToken: out.refreshToken });
        else await browse.close();
      }
    }),
  );
  return { ms, kept };
}

/** Each chain rotates its own refresh token, from its own browser's address, until the deadline. */
async function refreshPhase(rp: oidc.Configuration, chains: { browse: Browse; refreshToken: string }[], seconds: number, maxCount: number): Promise<number[]> {
  const ms: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    chains.map((chain) =>
      chain.browse.run(async () => {
        while (performance.now() < deadline && ms.length < maxCount) {
          const t = performance.now();
          const res = await oidc.refreshTokenGrant(rp, chain.refreshToken);
          if (res.refresh_token === undefined || res.refresh_token === chain.refreshToken) throw new Error("the refresh token was not rotated");
          chain.refreshToken = res.refresh_token;
          ms.push(performance.now() - t);
        }
      }),
    ),
  );
  return ms;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const pin = hasTaskset();
  if (pin) execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  const dir = await mkdtemp(join(tmpdir(), "altalune-auth-flow-"));
  const db = await benchDatabase();
  const sql = createPool(db.url, { max: 4 });
  const smtp = await startSmtpReceiver();
  let server: ServerProcess | undefined;
  try {
    await migrateUp(sql);
    await runPostMigrate(sql);
    const [{ version } = { version: "?" }] = await sql<{ version: string }[]>`select current_setting('server_version') as version`;
    const client = await createClient(sql, { name: "Bench", confidential: true });
    const users: string[] = [];
    for (let i = 0; i < WARMUP + LOGINS; i++) {
      const email = `bench-${i}@example.test`;
      await createUser(sql, { email, permissions: ["project:read"], projects: [{ name: `Bench ${i}`, role: "owner" }] });
      users.push(email);
    }

    const port = await freePort();
    server = await startServer({ databaseUrl: db.url, port, smtpUrl: smtp.url, dir, pin });
    const issuer = `http://127.0.0.1:${port}`;
    const rp = await relyingParty(issuer, client);
    const ctx = { rp, client, smtp, issuer, users, browse: installSourceAddresses() };

    // Warm-up (not measured): compiled code paths, pooled connections, prepared statements.
    const warm = await loginPhase(ctx, 0, WARMUP, Math.min(LOGIN_CONCURRENCY, WARMUP), Math.min(4, WARMUP));
    await refreshPhase(rp, warm.kept, 2, MAX_REFRESHES);
    await Promise.all(warm.kept.map((k) => k.browse.close()));

    const pinPostgres = pin && !values["postgres-unpinned"];
    let pinnedBackends = 0;
    if (pinPostgres) pinnedBackends = await pinBackends(db.admin, db.name);
    const loadBefore = loadavg();
    const s0 = await sample(server.child, db.admin, db.name);
    const t0 = performance.now();
    const logins = await loginPhase(ctx, WARMUP, LOGINS, LOGIN_CONCURRENCY, REFRESH_CONCURRENCY);
    const loginSeconds = (performance.now() - t0) / 1000;
    const s1 = await sample(server.child, db.admin, db.name, s0);

    if (pinPostgres) pinnedBackends = Math.max(pinnedBackends, await pinBackends(db.admin, db.name));
    const s2 = await sample(server.child, db.admin, db.name);
    const t2 = performance.now();
    const refreshes = await refreshPhase(rp, logins.kept, REFRESH_SECONDS, MAX_REFRESHES);
    const refreshSeconds = (performance.now() - t2) / 1000;
    const s3 = await sample(server.child, db.admin, db.name, s2);
    await Promise.all(logins.kept.map((k) => k.browse.close()));
    const loadAfter = loadavg();

    const exitCode = await server.stop();
    server = undefined;
    const serverLog = await readFile(join(dir, "auth-server.log"), "utf8");
    const problems = serverLog.split("\n").filter((l) => /"level":(40|50|60)/.test(l) && !/development secrets generated/.test(l));
    if (exitCode !== 0) throw new Error(`auth server exited ${exitCode}:\n${serverLog.slice(-4000)}`);

    const row = (what: string, ms: number[], seconds: number, u: Usage) => {
      const sorted = [...ms].sort((a, b) => a - b);
      const per = (x: number) => (x / ms.length).toFixed(2);
      return (
        `| ${what} | ${ms.length} | ${(ms.length / seconds).toFixed(1)} | ${percentile(sorted, 0.5).toFixed(1)} | ${percentile(sorted, 0.99).toFixed(1)} | ` +
        `${per(u.serverMs)} | ${(u.serverMs / 10 / u.seconds).toFixed(0)} % | ${per(u.clientMs)} | ${per(u.postgresMs)} | ` +
        `${u.cores.map((c) => `${(c * 100).toFixed(0)} %`).join(" / ")} |`
      );
    };
    const state = (() => {
      try {
        const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
        const dirty = execFileSync("git", ["status", "--porcelain", "--", "apps", "packages"], { cwd: root, encoding: "utf8" }).trim() !== "";
        return `${head}${dirty ? " + uncommitted changes under apps/ packages/" : ""}`;
      } catch {
        return "unknown";
      }
    })();
    const lines = [
      sectionHeading(`Auth server alone on one core: logins and refreshes${values.label ? ` (${values.label})` : ""}`, version),
      "",
      `\`altalune serve-auth\` in its own process${pin ? ", pinned to core 0 (`taskset -c 0`)" : " (not pinned: taskset is not installed)"}, ` +
        `default configuration (LOG_LEVEL=info to a file, metrics on) but TOKEN_RATE_LIMIT_PER_MINUTE=${TOKEN_RATE_LIMIT_PER_MINUTE}; ` +
        `the client in another process${pin ? " on core 1" : ""}, PostgreSQL ${process.env["DATABASE_URL"] ? "from DATABASE_URL (a database made for the run)" : "embedded"}, ` +
        `${pinPostgres ? `its backends for the run's database (${pinnedBackends}) pinned to core 1 before each phase` : "unpinned"}. ` +
        `Every login from its own loopback address (login-code limits at their defaults). Tree: ${state}.`,
      `Full login = authorization request → login page → email form → code from the mail (SMTP to this process) → code form → consent → callback → ` +
        `token exchange (confidential client, PKCE), ${LOGIN_CONCURRENCY} at a time; refresh = refresh_token grant with rotation, ${logins.kept.length} chains.`,
      "",
      "| what | count | per second | p50 ms | p99 ms | server CPU ms/op | server core busy | client CPU ms/op | PostgreSQL CPU ms/op | cores 0 / 1 busy |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
      row("full login with consent", logins.ms, loginSeconds, usageBetween(s0, s1)),
      row("refresh (rotation)", refreshes, refreshSeconds, usageBetween(s2, s3)),
      "",
      `Load average (1 / 5 / 15 min) before the measured phases: ${loadBefore.map((l) => l.toFixed(2)).join(" / ")}; after: ${loadAfter.map((l) => l.toFixed(2)).join(" / ")} ` +
        `(the machine is shared: other processes' work shows in the cores' busy share).`,
      ...(problems.length > 0 ? ["", `Server log: ${problems.length} warning/error lines, first: \`${problems[0]!.slice(0, 300)}\``] : []),
    ];
    if (values["no-publish"]) process.stdout.write(`${lines.join("\n")}\n`);
    else await publish(lines);
  } finally {
    if (server !== undefined) await server.stop();
    await smtp.close();
    await sql.end({ timeout: 5 });
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
