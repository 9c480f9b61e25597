import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { HTTP1_SERVER_OPTIONS, startMetricsServer, type Clock, type Config, type Logger, type MetricsPort, type MetricsServer } from "@altalune/core";
import { databaseCallGuard, databaseHealth, traceStatements, type Sql } from "@altalune/db";
import { AccessTokenVerifier } from "@altalune/access-tokens";
import { accountRoutes, endLoginSession, signedIn } from "./account/index.js";
import { auditProviderEvents, SecurityAudit } from "./audit/index.js";
import { admission, availability } from "./availability/index.js";
import { bffRoutes, DashboardTokenClient } from "./bff/index.js";
import { EmailVerification, emailChangeRoutes, verificationUserEvents } from "./email-verification/index.js";
import { interactionRoutes } from "./interactions/routes.js";
import { providerPages } from "./interactions/provider-pages.js";
import { rememberCspNonce } from "./views/send-page.js";
import { AuthMetrics, routeOf } from "./metrics.js";
import { httpTracing } from "./tracing.js";
import { KnownDevices, LoginCodes, deriveKnownDeviceKey, deriveLoginCodeKey, type LoginCodesDeps } from "./login-codes/index.js";
import { createMailer, type Mailer } from "./mail/index.js";
import { ClientStore, CLIENT_CACHE_TTL_MS } from "./provider/client-store.js";
import { createProvider, keyRetentionSeconds, ROUTES } from "./provider/configuration.js";
import { csrfSecret, internalCallerSecret } from "./provider/derived-secrets.js";
import { jwtUserinfo } from "./provider/jwt-userinfo.js";
import { localKeySet } from "./provider/local-key-set.js";
import { purgeExpired } from "./provider/pg-adapter.js";
import { ProviderHost } from "./provider/provider-host.js";
import { ensureSigningKey } from "./provider/signing-keys.js";
import { bffTokenLimit, endpointLimits, RateLimiter } from "./rate-limit/index.js";
import { securityHeaders } from "./security/index.js";
import { purgeExpiredUpstreamLogins, socialLoginRoutes } from "./social/index.js";

export interface AuthServer {
  readonly port: number;
  /** Where this process listens (the issuer may be a public URL in front of it). */
  readonly url: string;
  /** Where /metrics is served (AUTH_METRICS_PORT); undefined when it is off. */
  readonly metricsPort: number | undefined;
  /** Re-reads the signing keys now instead of at the next poll (tests, `keys rotate` in-process). */
  refreshKeys(): Promise<void>;
  close(): Promise<void>;
}

export interface StartAuthServerOptions {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Listening port; default config.auth.port (0 = ephemeral). */
  port?: number;
  /** The /metrics port; default config.auth.metricsPort. */
  metricsPort?: MetricsPort;
  /** Default: SMTP from SMTP_URL, or the dev mail log. */
  mailer?: Mailer;
  /** How often signing keys are re-read (rotation reaches running servers within this). */
  keyPollMs?: number;
  /** How often expired tokens, sessions, codes and counters are deleted. */
  purgeIntervalMs?: number;
  /** Clock of login codes and verification links (tests). */
  clock?: Clock;
  /** Overrides the login-code rate limits (benchmarks drive many logins from one address). */
  loginCodeLimits?: LoginCodesDeps["limits"];
  /** How often unsent email-change mails (the outbox UpdateUser writes) are looked for. */
  emailChangePollMs?: number;
}

export const DEFAULT_KEY_POLL_MS = 5_000;
const DEFAULT_PURGE_INTERVAL_MS = 10 * 60_000;
/** The Resources API's listener usually sends at once; the poll catches what it could not. */
const DEFAULT_EMAIL_CHANGE_POLL_MS = 10_000;
const FORM_MAX_BYTES = 8 * 1024;

export async function startAuthServer(opts: StartAuthServerOptions): Promise<AuthServer> {
  const { sql, config, logger } = opts;
  const encryptionKey = config.encryptionKey;
  if (encryptionKey === undefined) throw new Error("ENCRYPTION_KEY is required by the auth server");
  const log = logger.child({ component: "auth" });

  await ensureSigningKey(sql, encryptionKey);
  const clients = new ClientStore(sql, encryptionKey, log, CLIENT_CACHE_TTL_MS);
  const mailer = opts.mailer ?? createMailer(config, log);
  const metrics = new AuthMetrics();
  const limiter = new RateLimiter(sql, undefined, metrics.rateLimited);
  const brand = config.branding.authServerName;
  const clock = opts.clock;
  const loginCodes = new LoginCodes({
    sql,
    mailer,
    limiter,
    logger: log,
    brand,
    pepper: deriveLoginCodeKey(encryptionKey),
    ...(clock ? { clock } : {}),
    ...(opts.loginCodeLimits ? { limits: opts.loginCodeLimits } : {}),
  });
  const verification = new EmailVerification({ sql, mailer, limiter, logger: log, brand, baseUrl: config.auth.issuer, ...(clock ? { clock } : {}) });
  const pages = providerPages({ brand, csrfSecret: csrfSecret(encryptionKey) });
  // Security events (logins, consents, links, refresh-token reuse) in altalune_audit_events.
  const audit = new SecurityAudit(sql, log, limiter);

  const host = await ProviderHost.start({
    sql,
    encryptionKey,
    retentionSeconds: keyRetentionSeconds(config),
    build: (keys) => auditProviderEvents(metrics.watchProvider(createProvider({ sql, config, logger: log, clients, keys, pages })), audit),
    logger: log,
    pollMs: opts.keyPollMs ?? DEFAULT_KEY_POLL_MS,
  });

  // Client addresses (per-IP limits) come from X-Forwarded-For only through trusted proxies, and
  // only the entries they appended: a client can prepend anything it likes.
  metrics.readSignerFrom(() => host.keySet.signer.activatesAt);

  const app = new Koa({ proxy: config.trustedProxyHops > 0, maxIpsCount: config.trustedProxyHops });
  // First, so every answer is counted, the 503s and security refusals of later middleware too.
  app.use(metrics.httpMiddleware());
  // Then the request's span (OTEL_EXPORTER_OTLP_ENDPOINT), so all later work runs inside it.
  app.use(httpTracing());
  traceStatements(sql);
  app.use(securityHeaders({ production: config.production }));
  app.use(async (ctx, next) => {
    rememberCspNonce(ctx);
    await next();
  });
  app.use(async (ctx, next) => {
    if (ctx.path !== "/healthz" || ctx.method !== "GET") return next();
    ctx.set("cache-control", "no-store");
    ctx.body = { status: "ok" };
  });
  // Database outages and overload are answered 503 + Retry-After (never 500, never a hang), and
  // /readyz follows the database's health and turns 503 as soon as shutdown begins.
  const health = databaseHealth(sql);
  let draining = false;
  app.use(
    availability({
      guard: databaseCallGuard(health, config.dbUnavailableTimeoutMs),
      databaseAvailable: () => health.available,
      draining: () => draining,
      brand,
      logger: log,
    }),
  );
  const router = interactionRoutes({
    provider: () => host.current,
    sql,
    brand,
    csrfSecret: csrfSecret(encryptionKey),
    loginCodes,
    knownDevices: new KnownDevices(deriveKnownDeviceKey(encryptionKey)),
    secureCookies: config.production,
    verification,
    logger: log,
    formMaxBytes: FORM_MAX_BYTES,
    events: metrics,
    audit,
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(emailChangeRoutes({ emailChanges: verification.emailChanges, brand, formMaxBytes: FORM_MAX_BYTES, audit }).routes());
  app.use(accountRoutes({ provider: () => host.current, sql, clients, config, csrfSecret: csrfSecret(encryptionKey), verification, logger: log, formMaxBytes: FORM_MAX_BYTES, events: metrics, audit }).routes());
  const social = socialLoginRoutes({
    provider: () => host.current,
    sql,
    config,
    logger: log,
    encryptionKey,
    brand,
    csrfSecret: csrfSecret(encryptionKey),
    userCreated: verificationUserEvents(verification, log),
    events: metrics,
    audit,
  });
  app.use(social.routes());
  const dashboard = config.dashboardClient;
  const bff = bffRoutes({
    config,
    logger: log,
    tokens:
      dashboard.clientId === undefined || dashboard.clientSecret === undefined
        ? undefined
        : new DashboardTokenClient({
            issuer: config.auth.issuer,
            clientId: dashboard.clientId,
            clientSecret: dashboard.clientSecret,
            allowHttp: !config.production,
            internalSecret: internalCallerSecret(encryptionKey),
          }),
    tokenLimit: bffTokenLimit(limiter, config.auth.tokenRateLimitPerMinute),
    verifier: new AccessTokenVerifier({
      issuer: config.auth.issuer,
      audience: config.auth.apiAudience,
      localKeys: localKeySet(() => host.keySet),
    }),
    endSession: async (ctx) => {
      const me = await signedIn(host.current, ctx);
      if (me) await endLoginSession(host.current, ctx, me, config.production);
    },
  });
  app.use(bff.routes());
  app.use(
    jwtUserinfo({ sql, path: ROUTES.userinfo, issuer: config.auth.issuer, audience: config.auth.apiAudience, keys: () => host.keySet }),
  );
  app.use(
    endpointLimits({
      limiter,
      perMinute: config.auth.tokenRateLimitPerMinute,
      paths: [ROUTES.token, ROUTES.introspection, ROUTES.revocation],
      internalSecret: internalCallerSecret(encryptionKey),
    }),
  );
  // Everything else is oidc-provider's: the OAuth endpoints, discovery, JWKS, logout.
  app.use(async (ctx) => {
    // A request already answered 503 (its database wait ran out) is not handed on.
    if (ctx.res.writableEnded) return;
    ctx.respond = false;
    await host.handle(ctx.req, ctx.res);
  });
  app.on("error", (err: unknown) => log.error({ err }, "auth server request failed"));

  // MAX_CALLS_IN_FLIGHT is enforced before Koa, so a refusal costs as little as it can (admission.ts).
  const admitted = admission(
    {
      maxInFlight: config.maxCallsInFlight,
      brand,
      production: config.production,
      countRefusal: (path, method, status, seconds) => metrics.countRequest(routeOf(undefined, path), method, status, seconds),
      logger: log,
    },
    app.callback(),
  );
  const server: Server = createServer(HTTP1_SERVER_OPTIONS, admitted);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? config.auth.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // Its own port, bound like the app's (HOST), never the public one.
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await startMetricsServer(metrics.registry, opts.metricsPort ?? config.auth.metricsPort, config.host);
  } catch (e) {
    host.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw e;
  }
  const shownHost = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;

  const purge = async () => {
    try {
      const tokens = await purgeExpired(sql);
      const codes = await loginCodes.purgeExpired();
      const links = await verification.purgeExpired();
      const counters = await limiter.purgeExpired();
      const upstream = await purgeExpiredUpstreamLogins(sql);
      if (tokens + codes + links + counters + upstream > 0) log.debug({ tokens, codes, links, counters, upstream }, "expired auth rows purged");
    } catch (e) {
      log.warn({ err: e }, "purge of expired auth rows failed; retrying at the next interval");
    }
  };
  const purgeTimer = setInterval(() => void purge(), opts.purgeIntervalMs ?? DEFAULT_PURGE_INTERVAL_MS);
  purgeTimer.unref();
  const emailChangeTimer = setInterval(() => {
    verification.emailChanges.sendDue().catch((e: unknown) => log.warn({ err: e }, "email change outbox poll failed; retrying at the next interval"));
  }, opts.emailChangePollMs ?? DEFAULT_EMAIL_CHANGE_POLL_MS);
  emailChangeTimer.unref();

  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${shownHost}:${port}`,
    metricsPort: metricsServer?.port,
    refreshKeys: () => host.refresh(),
    close() {
      closing ??= (async () => {
        // Readiness first, so load balancers stop sending new requests while the port still
        // accepts them; then the listener closes and requests in flight finish. Background work
        // (purge, outbox, key reload) stops at once: the drain serves requests only, and on Ctrl-C
        // in dev the embedded database got the same SIGINT and is already going away.
        draining = true;
        clearInterval(purgeTimer);
        clearInterval(emailChangeTimer);
        host.stop();
        const drainMs = Math.min(config.shutdownDrainMs, Math.floor(config.shutdownTimeoutMs / 2));
        if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs - drainMs);
        await closed;
        clearTimeout(grace);
        await metricsServer?.close();
        await loginCodes.drain();
        await verification.emailChanges.drain();
        await mailer.close?.();
      })();
      return closing;
    },
  };
}
