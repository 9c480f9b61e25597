#!/usr/bin/env node
// The `altalune` command. Run with `pnpm altalune <command>` (or `pnpm start` for `dev`).
import { parseArgs } from "node:util";
import { ConfigError, createLogger, loadConfig, startTracing, withDevSecrets, type Config, type Logger } from "@altalune/core";
import {
  createPool,
  migrateDown,
  migrateUp,
  migrationStatus,
  resolveDatabase,
  runPostMigrate,
  transientKind,
  type ResolvedDatabase,
  type Sql,
} from "@altalune/db";
import {
  DEFAULT_KEY_POLL_MS,
  EmailVerification,
  auditIdentities,
  RateLimiter,
  createMailer,
  issueAccessToken,
  keyRetentionSeconds,
  parseTtl,
  rotateSigningKey,
  startAuthServer,
  verificationUserEvents,
  type AuthServer,
} from "@altalune/auth";
import { seed, startResourcesServer, type ResourcesServer } from "@altalune/resources";
import { DIST_DIR, ensureWebBuild, startWebServer, webRuntimeConfig, type WebServer } from "@altalune/web";

/**
 * How long a new key is published before it signs: longer than every auth replica's key poll
 * (5 s), so each publishes it first, and than the Resources API's JWKS refetch cooldown (30 s),
 * so no API replica that fetched the keys just before the rotation refuses the new key's tokens.
 */
const DEFAULT_ROTATION_DELAY_SECONDS = Math.max((2 * DEFAULT_KEY_POLL_MS) / 1000, 30) + 5;

const USAGE = `usage: altalune <command>

commands:
  dev                     embedded PostgreSQL when DATABASE_URL is unset, migrate, seed, serve
                          the Resources API, the auth server and the web client (:WEB_PORT) together
  serve                   serve the Resources API (Connect :RESOURCES_PORT, gRPC :GRPC_PORT)
  serve-auth              serve the OAuth 2.0 / OpenID Connect server (:AUTH_PORT, issuer AUTH_ISSUER)
  keys rotate [--delay-seconds N]
                          add a signing key; it signs after N seconds (default ${DEFAULT_ROTATION_DELAY_SECONDS},
                          time for every replica to publish it); older keys stay in the JWKS
                          until the tokens they signed have expired
  token issue --email <address> [--ttl 15m]
                          print an access token for that user with their current claims
                          (needs the database and ENCRYPTION_KEY)
  identities audit        list social-login identities that may have been linked to an existing
                          account by email address alone (before migration 0015), for review;
                          changes nothing
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

/**
 * Runs `fn` on the pool that `migrate` and `seed` use: a short-lived direct connection when
 * MIGRATION_DATABASE_URL differs from DATABASE_URL (the migrator's session-level advisory lock
 * cannot go through a transaction-pooling PgBouncer), otherwise the runtime's pool.
 */
async function withMigrationPool<T>(rt: Runtime, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const url = rt.config.migrationDatabaseUrl;
  if (url === undefined || url === rt.database.url) return fn(rt.sql);
  const sql = createPool(url, { max: 4, applicationName: "altalune-migrate" });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function migrateAndSeed(rt: Runtime, skipSeed: boolean): Promise<void> {
  await withMigrationPool(rt, async (sql) => {
    const { applied } = await migrateUp(sql, { logger: rt.logger });
    rt.logger.info(applied.length ? `applied migrations: ${applied.join(", ")}` : "database schema is up to date");
    await runPostMigrate(sql);
    if (!skipSeed) await seed(sql, rt.logger, rt.config);
  });
}

/** Sends the verification mail for users created through the Resources API (CreateUser). */
function userEventsOf(rt: Runtime) {
  if (rt.config.production && rt.config.mail.smtpUrl === undefined) {
    rt.logger.warn("SMTP_URL is not set: users created through the API get no verification email");
    return undefined;
  }
  const verification = new EmailVerification({
    sql: rt.sql,
    mailer: createMailer(rt.config, rt.logger),
    limiter: new RateLimiter(rt.sql),
    logger: rt.logger,
    brand: rt.config.branding.authServerName,
    baseUrl: rt.config.auth.issuer,
  });
  return verificationUserEvents(verification, rt.logger);
}

async function startResources(rt: Runtime, startedAt: number): Promise<ResourcesServer> {
  const userEvents = userEventsOf(rt);
  const server = await startResourcesServer({ sql: rt.sql, config: rt.config, logger: rt.logger, ...(userEvents ? { userEvents } : {}) });
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
      `  Metrics (Resources API):                 ${server.metricsPort === undefined ? "off" : `http://${host}:${server.metricsPort}/metrics`}`,
      "",
    ].join("\n") + "\n",
  );
  return server;
}

async function startAuth(rt: Runtime, startedAt: number): Promise<AuthServer> {
  const server = await startAuthServer({ sql: rt.sql, config: rt.config, logger: rt.logger });
  const issuer = rt.config.auth.issuer;
  rt.logger.info({ startupMs: Math.round(performance.now() - startedAt), issuer, listening: server.url }, "Altalune auth server ready");
  process.stdout.write(
    [
      "",
      `  Auth server (OAuth 2.0 / OpenID Connect): ${issuer}`,
      `  Discovery: ${issuer}/.well-known/openid-configuration  Listening: ${server.url}`,
      `  Metrics (auth server): ${server.metricsPort === undefined ? "off" : `${server.url.replace(/:\d+$/, `:${server.metricsPort}`)}/metrics`}`,
      "",
    ].join("\n") + "\n",
  );
  return server;
}

/**
 * The web client (apps/web) at http://localhost:WEB_PORT, built first when dist/ is missing or
 * older than its sources. Everything is addressed as `localhost` (the issuer's default too): the
 * page, the BFF and the API must be one site for the browser to send the session cookies.
 */
async function startWeb(rt: Runtime, apiPort: number): Promise<WebServer | undefined> {
  const runtimeConfig = webRuntimeConfig(rt.config, `http://localhost:${apiPort}/api`);
  if (runtimeConfig === undefined) {
    rt.logger.warn("DASHBOARD_CLIENT_ID is not set: the web client is not served");
    return undefined;
  }
  await ensureWebBuild({ onBuild: () => rt.logger.info("building the web client (apps/web/dist)") });
  const server = await startWebServer({ distDir: DIST_DIR, runtimeConfig, port: rt.config.webPort, host: rt.config.host, canonicalHost: "localhost" });
  rt.logger.info({ url: server.url }, "Altalune web client ready");
  process.stdout.write(
    [
      "",
      `  Web client: ${server.url}  (sign in as ${rt.config.superadminEmail}; ${
        rt.config.mail.smtpUrl === undefined ? `the code is in ${rt.config.dataDir}/mail.log` : "the code is mailed"
      })`,
      "",
    ].join("\n") + "\n",
  );
  return server;
}

async function serve(rt: Runtime, startedAt: number, parts: { resources: boolean; auth: boolean; web?: boolean }): Promise<void> {
  const servers: { close(): Promise<void> }[] = [];
  // OpenTelemetry, only when OTEL_EXPORTER_OTLP_ENDPOINT is set (else nothing is loaded); closed
  // last, after the servers, so the last calls' spans are sent.
  const tracing = await startTracing({ serviceName: parts.resources && parts.auth ? "altalune" : parts.auth ? "altalune-auth" : "altalune-resources" });
  try {
    // The auth server first: the Resources API fetches its keys from it.
    if (parts.auth) servers.push(await startAuth(rt, startedAt));
    const resources = parts.resources ? await startResources(rt, startedAt) : undefined;
    if (resources !== undefined) servers.push(resources);
    const web = parts.web && resources !== undefined ? await startWeb(rt, resources.connectPort) : undefined;
    if (web !== undefined) servers.push(web);
  } catch (e) {
    await Promise.all(servers.map((s) => s.close()));
    await tracing.shutdown();
    throw e;
  }
  const server = { close: () => Promise.all(servers.map((s) => s.close())).then(() => tracing.shutdown()) };
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        rt.logger.warn(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      // Closing the pool terminates connections that still had driver work queued; that work was
      // abandoned by the shutdown itself, so its rejection is not a failure of the run.
      process.on("unhandledRejection", (e: unknown) => {
        if (transientKind(e) === "unavailable") return rt.logger.debug({ err: e }, "database work abandoned by the shutdown");
        throw e;
      });
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
      email: { type: "string" },
      ttl: { type: "string" },
      "delay-seconds": { type: "string" },
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
  // Servers log to stdout; one-shot commands keep stdout for their result (a token, a status).
  const logger = createLogger({ level: loaded.logLevel, toStderr: !["dev", "serve", "serve-auth"].includes(command) });
  const config = await withDevSecrets(loaded, logger);
  const rt = await openRuntime(config, logger);
  try {
    switch (command) {
      case "dev":
        await migrateAndSeed(rt, false);
        await serve(rt, startedAt, { resources: true, auth: true, web: true });
        return 0;
      case "serve":
        await serve(rt, startedAt, { resources: true, auth: false });
        return 0;
      case "serve-auth":
        await serve(rt, startedAt, { resources: false, auth: true });
        return 0;
      case "keys":
        return await keys(rt, sub, values["delay-seconds"]);
      case "token":
        return await token(rt, sub, values.email, values.ttl);
      case "identities":
        return await identities(rt, sub);
      case "seed":
        await withMigrationPool(rt, (sql) => seed(sql, logger, rt.config));
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

function requireEncryptionKey(rt: Runtime): Buffer {
  if (rt.config.encryptionKey === undefined) throw new ConfigError(["ENCRYPTION_KEY: required (signing keys are sealed with it)"]);
  return rt.config.encryptionKey;
}

async function keys(rt: Runtime, sub: string | undefined, delayText: string | undefined): Promise<number> {
  if (sub !== "rotate") {
    process.stderr.write(`keys needs rotate\n\n${USAGE}`);
    return 2;
  }
  const delay = delayText === undefined ? DEFAULT_ROTATION_DELAY_SECONDS : Number(delayText);
  if (!Number.isInteger(delay) || delay < 0) {
    process.stderr.write(`--delay-seconds must be a non-negative integer, got ${delayText}\n`);
    return 2;
  }
  const result = await rotateSigningKey(rt.sql, requireEncryptionKey(rt), {
    activationDelaySeconds: delay,
    retentionSeconds: keyRetentionSeconds(rt.config),
  });
  process.stdout.write(
    `new signing key ${result.kid}, signing from ${result.activatesAt.toISOString()}` +
      (result.pruned.length ? `; retired: ${result.pruned.join(", ")}` : "") +
      "\n",
  );
  return 0;
}

async function token(rt: Runtime, sub: string | undefined, email: string | undefined, ttlText: string | undefined): Promise<number> {
  if (sub !== "issue" || email === undefined) {
    process.stderr.write(`token needs: issue --email <address> [--ttl 15m]\n\n${USAGE}`);
    return 2;
  }
  let ttlSeconds: number | undefined;
  try {
    ttlSeconds = ttlText === undefined ? undefined : parseTtl(ttlText);
    requireEncryptionKey(rt);
    const issued = await issueAccessToken({ sql: rt.sql, config: rt.config, email, ...(ttlSeconds ? { ttlSeconds } : {}) });
    rt.logger.info({ user: issued.userPublicId, kid: issued.kid, expiresAt: issued.expiresAt.toISOString() }, "access token issued");
    process.stdout.write(`${issued.token}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

async function identities(rt: Runtime, sub: string | undefined): Promise<number> {
  if (sub !== "audit") {
    process.stderr.write(`identities needs audit\n\n${USAGE}`);
    return 2;
  }
  const rows = await auditIdentities(rt.sql);
  const day = (d: Date | null) => (d === null ? "never" : d.toISOString());
  process.stdout.write(["user", "email", "provider", "linked_by", "user_created", "identity_created", "last_login"].join("\t") + "\n");
  for (const r of rows) {
    process.stdout.write(
      [r.userPublicId, r.email, r.provider, r.linkedBy, day(r.userCreatedAt), day(r.identityCreatedAt), day(r.lastLoginAt)].join("\t") + "\n",
    );
  }
  process.stderr.write(
    rows.length === 0
      ? "no identity to review\n"
      : `${rows.length} identit${rows.length === 1 ? "y" : "ies"} may have been linked by email address alone; ` +
          "review them with their users (nothing was changed)\n",
  );
  return 0;
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
      const { reverted } = await withMigrationPool(rt, (sql) => migrateDown(sql, { logger: rt.logger, steps }));
      rt.logger.info(reverted.length ? `reverted: ${reverted.join(", ")}` : "nothing to revert");
      return 0;
    }
    case "status": {
      for (const m of await withMigrationPool(rt, (sql) => migrationStatus(sql))) {
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
