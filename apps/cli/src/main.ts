#!/usr/bin/env node
// The `altalune` command. Run with `pnpm altalune <command>` (or `pnpm start` for `dev`).
import { parseArgs } from "node:util";
import { ConfigError, createLogger, loadConfig, withDevSecrets, type Config, type Logger } from "@altalune/core";
import {
  createPool,
  migrateDown,
  migrateUp,
  migrationStatus,
  resolveDatabase,
  runPostMigrate,
  type ResolvedDatabase,
  type Sql,
} from "@altalune/db";
import { seed, startResourcesServer } from "@altalune/resources";

const USAGE = `usage: altalune <command>

commands:
  dev                     embedded PostgreSQL when DATABASE_URL is unset, migrate, seed, serve
  serve                   serve the Resources API (Connect :RESOURCES_PORT, gRPC :GRPC_PORT)
  migrate up [--skip-seed]
  migrate down [--steps N]
  migrate status
  seed                    idempotent seed data (default project, roles, permissions, superadmin)
`;

interface Runtime {
  config: Config;
  logger: Logger;
  database: ResolvedDatabase;
  sql: Sql;
  /** Ends the pool and stops an embedded server; safe to call twice. */
  shutdown(): Promise<void>;
}

async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  if (config.production && config.databaseUrl === undefined) {
    throw new ConfigError(["DATABASE_URL: required in production (the embedded PostgreSQL is for development)"]);
  }
  const database = await resolveDatabase({ dataDir: config.dataDir, logger });
  const sql = createPool(database.url, { max: config.dbPoolMax });
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

async function migrateAndSeed(rt: Runtime, skipSeed: boolean): Promise<void> {
  const { applied } = await migrateUp(rt.sql, { logger: rt.logger });
  rt.logger.info(applied.length ? `applied migrations: ${applied.join(", ")}` : "database schema is up to date");
  await runPostMigrate(rt.sql);
  if (!skipSeed) await seed(rt.sql, rt.logger, rt.config);
}

async function serve(rt: Runtime, startedAt: number): Promise<void> {
  const server = await startResourcesServer({ sql: rt.sql, config: rt.config, logger: rt.logger });
  const host = rt.config.host === "0.0.0.0" ? "127.0.0.1" : rt.config.host;
  rt.logger.info(
    {
      startupMs: Math.round(performance.now() - startedAt),
      connect: `http://${host}:${server.connectPort}/api`,
      grpc: `${host}:${server.grpcPort}`,
      embeddedDatabase: rt.database.embedded,
    },
    "Altalune Resources API ready",
  );
  process.stdout.write(
    [
      "",
      `  Resources API (Connect, gRPC-Web, gRPC): http://${host}:${server.connectPort}/api`,
      `  Native gRPC (reflection, health):        ${host}:${server.grpcPort}`,
      `  Health: http://${host}:${server.connectPort}/healthz  Ready: http://${host}:${server.connectPort}/readyz`,
      "",
    ].join("\n") + "\n",
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        rt.logger.warn(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      rt.logger.info(`${signal}: shutting down (grace ${rt.config.shutdownTimeoutMs} ms)`);
      void server.close().then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

async function main(argv: string[]): Promise<number> {
  const startedAt = performance.now();
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "skip-seed": { type: "boolean", default: false },
      steps: { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, sub] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }

  const loaded = loadConfig();
  const logger = createLogger({ level: loaded.logLevel });
  const config = await withDevSecrets(loaded, logger);
  const rt = await openRuntime(config, logger);
  try {
    switch (command) {
      case "dev":
        await migrateAndSeed(rt, false);
        await serve(rt, startedAt);
        return 0;
      case "serve":
        await serve(rt, startedAt);
        return 0;
      case "seed":
        await seed(rt.sql, logger, rt.config);
        return 0;
      case "migrate":
        return await migrate(rt, sub, values["skip-seed"], values.steps);
      default:
        process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } finally {
    await rt.shutdown();
  }
}

async function migrate(rt: Runtime, sub: string | undefined, skipSeed: boolean, stepsText: string): Promise<number> {
  switch (sub) {
    case "up":
      await migrateAndSeed(rt, skipSeed);
      return 0;
    case "down": {
      const steps = Number(stepsText);
      if (!Number.isInteger(steps) || steps < 1) {
        process.stderr.write(`--steps must be a positive integer, got ${stepsText}\n`);
        return 2;
      }
      const { reverted } = await migrateDown(rt.sql, { logger: rt.logger, steps });
      rt.logger.info(reverted.length ? `reverted: ${reverted.join(", ")}` : "nothing to revert");
      return 0;
    }
    case "status": {
      for (const m of await migrationStatus(rt.sql)) {
        const state = m.fileMissing
          ? "applied, FILE MISSING"
          : m.checksumMismatch
            ? "applied, CHANGED SINCE"
            : m.applied
              ? `applied ${m.appliedAt?.toISOString() ?? ""}`
              : "pending";
        process.stdout.write(`${m.version.padEnd(40)} ${state}\n`);
      }
      return 0;
    }
    default:
      process.stderr.write(`migrate needs up, down or status\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
