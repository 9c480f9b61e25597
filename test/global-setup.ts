/**
 * vitest globalSetup: one PostgreSQL server and one migrated template
 * database per run; each test file clones the template with
 * createTestDatabase() from @altalune/db/testing.
 *
 * DATABASE_URL set: its server is used (the role needs CREATEDB).
 * Unset: a throwaway embedded PostgreSQL is started in a temp dir.
 */
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, statfs, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { databaseUrlFor } from "../packages/db/src/database-url.js";
import { startEmbeddedPostgres } from "../packages/db/src/embedded.js";
import { DEFAULT_MIGRATIONS_DIR, migrateUp } from "../packages/db/src/migrator.js";
import { quoteIdent } from "../packages/db/src/partitions.js";
import { createPool, type Sql } from "../packages/db/src/pool.js";
import { runPostMigrate } from "../packages/db/src/post-migrate.js";
// For the ProvidedContext augmentation that types project.provide below.
import type {} from "../packages/db/src/testing.js";

const TEMP_PREFIX = "altalune-test-pg-";
const TEMPLATE_PREFIX = "altalune_tpl_";
const STALE_TEMPLATE_MS = 60 * 60 * 1000;

const SHM_DIR = "/dev/shm";
const SHM_MIN_FREE_BYTES = 1024 ** 3;

/**
 * Where throwaway clusters live. On a disk, CREATE DATABASE took 30–400 ms
 * even with fsync off (page-cache writeback); on tmpfs about 12 ms, and
 * every test file clones one. Small /dev/shm mounts (Docker's default is
 * 64 MB) are skipped. ALTALUNE_TEST_PG_DIR overrides.
 */
async function clusterBaseDirs(): Promise<{ preferred: string; all: string[] }> {
  const override = process.env["ALTALUNE_TEST_PG_DIR"];
  if (override) return { preferred: override, all: [override] };
  const shmFree = await statfs(SHM_DIR)
    .then((st) => st.bavail * st.bsize)
    .catch(() => 0);
  const all = existsSync(SHM_DIR) ? [SHM_DIR, tmpdir()] : [tmpdir()];
  return { preferred: shmFree >= SHM_MIN_FREE_BYTES ? SHM_DIR : tmpdir(), all };
}

const log = (msg: string) => console.log(`[db global-setup] ${msg}`);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e instanceof Error && "code" in e && e.code === "EPERM";
  }
}

/** Guards against pid reuse: only signal a postgres started on this dir. */
async function isPostmasterOf(pid: number, dir: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.split("\0").includes(join(dir, "data"));
}

/**
 * A run killed before its teardown (SIGKILL, crashed terminal) leaves its
 * embedded server running and its temp dir behind; each temp dir records the
 * owning vitest pid so the next run can tell orphans from concurrent runs.
 */
async function reapOrphanedServers(root: string): Promise<void> {
  for (const entry of await readdir(root).catch(() => [])) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = join(root, entry);
    const owner = Number.parseInt(await readFile(join(dir, "owner.pid"), "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && isAlive(owner)) continue;
    const postmaster = Number.parseInt(
      (await readFile(join(dir, "data", "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0] ?? "",
      10,
    );
    if (Number.isInteger(postmaster) && postmaster > 0 && (await isPostmasterOf(postmaster, dir))) {
      process.kill(postmaster, "SIGQUIT");
      for (let i = 0; i < 50 && isAlive(postmaster); i++) await new Promise((r) => setTimeout(r, 100));
    }
    await rm(dir, { recursive: true, force: true });
    log(`removed orphaned test server dir ${dir}`);
  }
}

/** Templates of runs on this host that died before teardown, on a shared DATABASE_URL server. */
async function dropStaleTemplates(admin: Sql): Promise<void> {
  const rows = await admin<{ datname: string }[]>`
    select datname from pg_database where starts_with(datname, ${TEMPLATE_PREFIX})`;
  for (const { datname } of rows) {
    const match = /^altalune_tpl_(\d+)_(\d+)/.exec(datname);
    if (!match) continue;
    const pid = Number(match[1]);
    const createdAt = Number(match[2]);
    if (isAlive(pid) || Date.now() - createdAt < STALE_TEMPLATE_MS) continue;
    await admin.unsafe(`drop database if exists ${quoteIdent(datname)} with (force)`);
  }
}

async function dropRunDatabases(admin: Sql, template: string): Promise<void> {
  const rows = await admin<{ datname: string }[]>`
    select datname from pg_database
    where datname = ${template} or starts_with(datname, ${`${template}_`})
    order by datname = ${template}`;
  for (const { datname } of rows) {
    await admin.unsafe(`drop database if exists ${quoteIdent(datname)} with (force)`);
  }
}

interface RunDatabase {
  adminUrl: string;
  template: string;
  serverVersion: number;
  teardown(): Promise<void>;
}

/**
 * vitest runs a global setup once for the root and once per project (vitest.config.ts has a
 * `main` and a `faults` project): all of them share one server and one template, started by the
 * first and torn down by the last.
 */
const shared = globalThis as typeof globalThis & { altaluneRunDatabase?: { db: Promise<RunDatabase>; users: number } };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const entry = (shared.altaluneRunDatabase ??= { db: startRunDatabase(), users: 0 });
  entry.users++;
  const db = await entry.db;
  project.provide("altaluneDbAdminUrl", db.adminUrl);
  project.provide("altaluneDbTemplate", db.template);
  project.provide("altaluneDbServerVersion", db.serverVersion);
  return async () => {
    if (--entry.users > 0) return;
    shared.altaluneRunDatabase = undefined;
    await db.teardown();
  };
}

async function startRunDatabase(): Promise<RunDatabase> {
  const started = performance.now();
  let adminUrl = process.env["DATABASE_URL"];
  let stopServer = async (): Promise<void> => {};
  let tempDir: string | undefined;

  if (!adminUrl) {
    const bases = await clusterBaseDirs();
    for (const base of bases.all) await reapOrphanedServers(base);
    tempDir = await mkdtemp(join(bases.preferred, TEMP_PREFIX));
    // mkdtemp creates 0700; as root the server runs as "postgres" and must traverse it.
    await chmod(tempDir, 0o755);
    await writeFile(join(tempDir, "owner.pid"), String(process.pid));
    const server = await startEmbeddedPostgres({ dataDir: join(tempDir, "data"), persistent: false });
    adminUrl = server.url;
    stopServer = server.stop;
    log(`embedded PostgreSQL on ${server.url} ready in ${Math.round(performance.now() - started)} ms`);
  }

  const template = `${TEMPLATE_PREFIX}${process.pid}_${Date.now()}`;
  const admin = createPool(adminUrl, { max: 1, applicationName: "altalune-test-admin" });
  const teardown = async (): Promise<void> => {
    try {
      await dropRunDatabases(admin, template);
    } finally {
      await admin.end({ timeout: 5 });
      await stopServer();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    }
  };

  let serverVersion = 0;
  try {
    const [version] = await admin<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
    serverVersion = version?.v ?? 0;
    if (process.env["DATABASE_URL"]) await dropStaleTemplates(admin);
    await admin.unsafe(`create database ${quoteIdent(template)}`);
    const migrateStarted = performance.now();
    const tpl = createPool(databaseUrlFor(adminUrl, template), { max: 2 });
    try {
      // A fresh clone has no migrations directory until the first file is committed.
      const { applied } = existsSync(DEFAULT_MIGRATIONS_DIR)
        ? await migrateUp(tpl, { dir: DEFAULT_MIGRATIONS_DIR })
        : { applied: [] };
      await runPostMigrate(tpl);
      log(`template ${template}: ${applied.length} migration(s) in ${Math.round(performance.now() - migrateStarted)} ms`);
    } finally {
      await tpl.end({ timeout: 5 });
    }
    // Clones fail while anyone is connected to the template; nobody needs to be.
    await admin.unsafe(`alter database ${quoteIdent(template)} with allow_connections false`);
  } catch (e) {
    await teardown();
    throw e;
  }

  return { adminUrl, template, serverVersion, teardown };
}
