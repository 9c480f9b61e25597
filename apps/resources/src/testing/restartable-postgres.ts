import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "@altalune/db";

/**
 * A private embedded PostgreSQL that a fault test or benchmark may stop and start again on the
 * same port and data directory (never the shared test server). `stop()` is a fast shutdown
 * (SIGINT to the postmaster, like `pg_ctl stop -m fast`): sessions get 57P01, new connections are
 * refused until `start()` has the server accepting connections again.
 */
export interface RestartablePostgres {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes its directory. Idempotent. */
  destroy(): Promise<void>;
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const base = await mkdtemp(join(process.env["ALTALUNE_TEST_PG_DIR"] ?? tmpdir(), "altalune-outage-"));
  // As root the server runs as "postgres", who must traverse the directory.
  await chmod(base, 0o755);
  const dataDir = join(base, "data");
  // persistent: stop() must keep the data directory; the whole directory is removed by destroy().
  let server: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dataDir, persistent: true });
  const { url, port } = server;
  let destroyed: Promise<void> | undefined;
  return {
    url,
    port,
    async stop() {
      const s = server;
      server = undefined;
      await s?.stop();
    },
    async start() {
      if (server !== undefined) return;
      server = await startEmbeddedPostgres({ dataDir, port, persistent: true });
    },
    destroy() {
      destroyed ??= (async () => {
        const s = server;
        server = undefined;
        await s?.stop();
        await rm(base, { recursive: true, force: true });
      })();
      return destroyed;
    },
  };
}
