// `serve` and `serve-auth`, and the servers `dev` runs together.
import { startTracing } from "@altalune/core";
import { transientKind } from "@altalune/db";
import { EmailVerification, RateLimiter, createMailer, startAuthServer, verificationUserEvents, type AuthServer } from "@altalune/auth";
import { startResourcesServer, type ResourcesServer } from "@altalune/resources";
import { DIST_DIR, ensureWebBuild, startWebServer, webRuntimeConfig, type WebServer } from "@altalune/web";
import type { Runtime } from "../runtime.js";

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

/** A repeated signal within this long of the first is the same one, relayed (see `stop` below). */
const SIGNAL_ECHO_MS = 1000;

export async function serve(rt: Runtime, startedAt: number, parts: { resources: boolean; auth: boolean; web?: boolean }): Promise<void> {
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
    let stoppingSince: number | undefined;
    const stop = (signal: NodeJS.Signals) => {
      if (stoppingSince !== undefined) {
        // One Ctrl-C can arrive twice: the terminal signals the whole process group, and a wrapper
        // in it (tsx, pnpm) may relay the same signal a moment later. Only a later one is a
        // second request, which exits at once.
        if (Date.now() - stoppingSince < SIGNAL_ECHO_MS) return;
        rt.logger.warn(`${signal} again: exiting now`);
        process.exit(1);
      }
      stoppingSince = Date.now();
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
