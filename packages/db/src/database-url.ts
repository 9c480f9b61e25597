import { resolve } from "node:path";
import { startEmbeddedPostgres } from "./embedded.js";
import { type DbLogger, silentLogger } from "./pool.js";

export interface ResolvedDatabase {
  url: string;
  /** True when this process started (or reused) an embedded server. */
  embedded: boolean;
  /** Stops the embedded server; a no-op for DATABASE_URL. */
  stop(): Promise<void>;
}

export interface ResolveDatabaseOptions {
  /** Root of local state, e.g. `.data`; the embedded cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  logger?: DbLogger;
  /** Port for the embedded server. Default: a free one. */
  port?: number;
  /** Defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** DATABASE_URL when set, otherwise a persistent embedded PostgreSQL. */
export async function resolveDatabase(opts: ResolveDatabaseOptions): Promise<ResolvedDatabase> {
  const logger = opts.logger ?? silentLogger;
  const url = (opts.env ?? process.env)["DATABASE_URL"];
  if (url) {
    logger.info(`using DATABASE_URL (${redactUrl(url)})`);
    return { url, embedded: false, stop: async () => {} };
  }
  const dataDir = resolve(opts.dataDir, "pg");
  logger.info(`DATABASE_URL not set; starting embedded PostgreSQL in ${dataDir}`);
  const server = await startEmbeddedPostgres({
    dataDir,
    persistent: true,
    logger,
    ...(opts.port === undefined ? {} : { port: opts.port }),
  });
  return { url: server.url, embedded: true, stop: server.stop };
}

/** The same server URL pointing at another database. */
export function databaseUrlFor(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The URL with its password masked, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable DATABASE_URL>";
  }
}
