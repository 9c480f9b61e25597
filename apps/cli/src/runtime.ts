import { ConfigError, type Config, type Logger } from "@altalune/core";
import { createPool, resolveDatabase, type ResolvedDatabase, type Sql } from "@altalune/db";

/** What every command runs on: the configuration, the logger and the database. */
export interface Runtime {
  config: Config;
  logger: Logger;
  database: ResolvedDatabase;
  sql: Sql;
  /** Ends the pool and stops an embedded server; safe to call twice. */
  shutdown(): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  if (config.production && config.databaseUrl === undefined) {
    throw new ConfigError(["DATABASE_URL: required in production (the embedded PostgreSQL is for development)"]);
  }
  const database = await resolveDatabase({ dataDir: config.dataDir, logger });
  // A call waits for a pooled connection no longer than it may wait on an unreachable database.
  const sql = createPool(database.url, {
    max: config.dbPoolMax,
    queueTimeoutMs: config.dbUnavailableTimeoutMs,
    prepare: config.databasePrepare,
  });
  let done: Promise<void> | undefined;
  return {
    config,
    logger,
    database,
    sql,
    shutdown() {
      done ??= (async () => {
        await sql.end({ timeout: 5 });
        await database.stop();
      })();
      return done;
    },
  };
}

export function requireEncryptionKey(rt: Runtime): Buffer {
  if (rt.config.encryptionKey === undefined) throw new ConfigError(["ENCRYPTION_KEY: required (signing keys are sealed with it)"]);
  return rt.config.encryptionKey;
}
