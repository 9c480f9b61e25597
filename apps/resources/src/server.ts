import { accessTokenCookieName, startMetricsServer, type Clock, type Config, type Logger, type MetricsPort, type MetricsServer } from "@altalune/core";
import { callAuditEvents, databaseCallGuard, databaseHealth, traceStatements, type Sql } from "@altalune/db";
import {
  CallAuditor,
  CallPipeline,
  startConnectServer,
  startGrpcServer,
  type HttpRoute,
  type RunningServer,
} from "@altalune/rpc";
import { AccessTokenVerifier, type AccessTokenVerifierOptions } from "@altalune/access-tokens";
import { createAuthorizer } from "./auth/authorizer.js";
import { UserStateCache } from "./auth/user-state.js";
import { createContainer } from "./container.js";
import { startAuditMaintenance } from "./domains/audit/index.js";
import type { UserEvents } from "./domains/user/index.js";
import { ResourcesMetrics } from "./metrics.js";

export interface ResourcesServer {
  readonly connectPort: number;
  readonly grpcPort: number;
  /** Where /metrics is served (METRICS_PORT); undefined when it is off. */
  readonly metricsPort: number | undefined;
  /** Stops both ports, letting in-flight calls finish within the configured bound. */
  close(): Promise<void>;
}

export interface StartOptions {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Ports override (tests pass 0 for ephemeral ports). */
  ports?: { connect: number; grpc: number; metrics?: MetricsPort };
  clock?: Clock;
  /** Listeners of user life-cycle events (the auth server's verification mail). */
  userEvents?: UserEvents;
  /** Tuning of token verification (tests shorten the JWKS cooldown and the user-state TTL). */
  auth?: { tokens?: Partial<AccessTokenVerifierOptions>; userStateTtlMs?: number };
  /**
   * false: no audit log. Only for the baseline bench/audit-cost.ts measures auditing against; no
   * configuration reaches it.
   */
  audit?: false;
}


function json(status: number, body: unknown): HttpRoute {
  return (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
}

export async function startResourcesServer(opts: StartOptions): Promise<ResourcesServer> {
  const { sql, config, logger } = opts;
  const metrics = new ResourcesMetrics();
  const userState = new UserStateCache(sql, {
    onLookup: metrics.userStateLookup,
    ...(opts.auth?.userStateTtlMs === undefined ? {} : { ttlMs: opts.auth.userStateTtlMs }),
  });
  const given = opts.userEvents;
  const userEvents: UserEvents = {
    userCreated: (user) => given?.userCreated(user) ?? Promise.resolve(),
    emailChangeRequested: (userPublicId) => given?.emailChangeRequested?.(userPublicId) ?? Promise.resolve(),
    // This replica forgets at once; the others within the user-state TTL.
    userAccessChanged: (userPublicId) => {
      userState.forget(userPublicId);
      given?.userAccessChanged?.(userPublicId);
    },
  };
  // Every domain of domains.ts, on both ports.
  const { registrations, auth } = createContainer({ sql, config, logger, userEvents, ...(opts.clock ? { clock: opts.clock } : {}) });
  // Every method's rule is read from the proto and checked at start-up (a method without one is
  // never served); this step enforces it for both ports.
  const authorize = metrics.countRefusals(createAuthorizer({
    tokens: new AccessTokenVerifier({
      issuer: config.auth.issuer,
      audience: config.auth.apiAudience,
      jwksUrl: config.auth.jwksUrl,
      onJwksFetch: metrics.jwksFetched,
      ...opts.auth?.tokens,
    }),
    apiKeys: auth.apiKeys,
    users: userState,
    cookies: { allowedOrigins: new Set(config.allowedOrigins), cookieName: accessTokenCookieName(config.production) },
  }));
  // Database outages are answered Unavailable within DB_UNAVAILABLE_TIMEOUT_MS (never a hang);
  // readiness follows the same health, and turns 503 as soon as shutdown begins.
  const health = databaseHealth(sql);
  let draining = false;
  const ready = () => !draining && health.available;
  const pipeline = new CallPipeline({
    logger,
    authorize,
    maxCallsInFlight: config.maxCallsInFlight,
    around: databaseCallGuard(health, config.dbUnavailableTimeoutMs),
    observe: metrics.observeCall,
    // One row per mutation (and secret reveal) in altalune_audit_events, with its change.
    ...(opts.audit === false
      ? {}
      : { audit: new CallAuditor({ open: callAuditEvents(sql), logger, trustedProxyHops: config.trustedProxyHops, observe: metrics.auditEvent }) }),
  });
  const auditMaintenance = startAuditMaintenance(sql, { retentionDays: config.auditRetentionDays, logger });
  metrics.readFrom({ callsInFlight: () => pipeline.activeCalls });
  metrics.watchPool(sql);
  // Statement spans, when tracing was started (OTEL_EXPORTER_OTLP_ENDPOINT); else nothing.
  traceStatements(sql);

  const routes: Record<string, HttpRoute> = {
    "/healthz": json(200, { status: "ok" }),
    "/readyz": (req, res) => {
      const status = draining ? "shutting down" : health.available ? "ready" : "database unavailable";
      json(ready() ? 200 : 503, { status })(req, res);
    },
  };

  const connect = await startConnectServer(
    { services: registrations, pipeline, routes, maxTimeoutMs: config.maxCallTimeoutMs, allowedOrigins: config.allowedOrigins },
    opts.ports?.connect ?? config.resourcesPort,
    config.host,
  );
  let grpc: RunningServer;
  try {
    grpc = await startGrpcServer(
      { services: registrations, pipeline, maxTimeoutMs: config.maxCallTimeoutMs, isReady: () => Promise.resolve(ready()), healthPollMs: 200 },
      opts.ports?.grpc ?? config.grpcPort,
      config.host,
    );
  } catch (e) {
    await connect.close(0);
    await auditMaintenance.stop();
    metrics.close();
    throw e;
  }
  // Its own port, bound like the others (HOST), never on the public ones.
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await startMetricsServer(metrics.registry, opts.ports?.metrics ?? config.metricsPort, config.host);
  } catch (e) {
    await Promise.all([connect.close(0), grpc.close(0)]);
    await auditMaintenance.stop();
    metrics.close();
    throw e;
  }

  return {
    connectPort: connect.port,
    grpcPort: grpc.port,
    metricsPort: metricsServer?.port,
    async close() {
      // Readiness first, so load balancers stop sending new calls while the ports still accept
      // them; then the ports close and in-flight calls finish within the rest of the timeout.
      draining = true;
      const drainMs = Math.min(config.shutdownDrainMs, Math.floor(config.shutdownTimeoutMs / 2));
      if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
      const graceMs = config.shutdownTimeoutMs - drainMs;
      await Promise.all([connect.close(graceMs), grpc.close(graceMs)]);
      await auditMaintenance.stop();
      // Scraped until the calls are done, so the last of them are counted.
      await metricsServer?.close();
      metrics.close();
    },
  };
}
