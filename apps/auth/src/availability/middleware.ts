import type { Context, Middleware } from "koa";
import type { Logger } from "@altalune/core";
import { problem } from "../bff/problem.js";
import { unavailablePage } from "../views/index.js";
import { pageNonce } from "../views/send-page.js";
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_DESCRIPTIONS, type UnavailableCause } from "./unavailable.js";

export interface AvailabilityOptions {
  /** Requests served at once (MAX_CALLS_IN_FLIGHT); one more is answered 503 at once. */
  maxInFlight: number;
  /** Bounds a request's wait on an unreachable database (databaseCallGuard of packages/db). */
  guard: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Whether the database answers (readiness). */
  databaseAvailable: () => boolean;
  /** True once shutdown has begun (readiness 503 while the listener still serves). */
  draining: () => boolean;
  /** Paths answered with OAuth JSON errors (token, introspection, revocation, userinfo, PAR…). */
  oauthJsonPaths: ReadonlySet<string>;
  /** The BFF's paths, answered with problem+json. */
  bffPaths: ReadonlySet<string>;
  brand: string;
  logger: Logger;
}

/** Liveness and readiness are never counted nor refused: a probe must see the real state. */
const PROBES = new Set(["/healthz", "/readyz"]);

/**
 * The auth server's answer to "not now" (issue 12): a database outage and overload are answered
 * 503 with Retry-After in the form the caller understands — OAuth JSON `temporarily_unavailable`
 * at the OAuth endpoints, problem+json at the BFF, a "temporarily unavailable, try again" page in
 * the browser — instead of a 500, an error page or a hang.
 *
 * - At most `maxInFlight` requests are served at once, counted until each response is finished
 *   (oidc-provider may still be writing after our middleware returned); beyond it, 503 at once.
 * - Every request runs under the database call guard: once it has waited DB_UNAVAILABLE_TIMEOUT_MS
 *   on an unreachable database it is answered 503 and its remaining queries are dropped.
 * - Any database unavailability thrown by our routes (or by oidc-provider calls they make) is
 *   answered the same way. oidc-provider's own endpoints answer it themselves (see
 *   OidcTemporarilyUnavailable); this is the net for everything else.
 */
export function availability(opts: AvailabilityOptions): Middleware {
  let inFlight = 0;

  const answer = (ctx: Context, cause: UnavailableCause) => {
    // The response may have been started by oidc-provider or a route that took over the socket.
    if (ctx.res.headersSent || ctx.res.writableEnded) return;
    ctx.respond = true;
    ctx.set("retry-after", String(RETRY_AFTER_SECONDS));
    ctx.set("cache-control", "no-store");
    const description = UNAVAILABLE_DESCRIPTIONS[cause];
    if (opts.bffPaths.has(ctx.path)) {
      problem(ctx, 503, "temporarily_unavailable", description);
    } else if (opts.oauthJsonPaths.has(ctx.path) || ctx.accepts("html", "json") === "json") {
      // Elsewhere a page, unless the caller prefers JSON (a browser sends text/html or nothing useful).
      ctx.status = 503;
      ctx.body = { error: "temporarily_unavailable", error_description: description };
    } else {
      ctx.status = 503;
      ctx.type = "html";
      ctx.body = String(
        unavailablePage({
          brand: opts.brand,
          ...pageNonce(ctx),
          ...(ctx.method === "GET" ? { retryHref: ctx.originalUrl } : {}),
        }),
      );
    }
  };

  return async (ctx, next) => {
    if (PROBES.has(ctx.path) && ctx.method === "GET") {
      if (ctx.path === "/healthz") return next();
      const draining = opts.draining();
      const up = opts.databaseAvailable();
      ctx.set("cache-control", "no-store");
      ctx.status = !draining && up ? 200 : 503;
      ctx.body = { status: draining ? "shutting down" : up ? "ready" : "database unavailable" };
      return;
    }
    if (inFlight >= opts.maxInFlight) {
      opts.logger.debug({ path: ctx.path, inFlight }, "auth server at its in-flight limit; request refused");
      return answer(ctx, "overloaded");
    }
    inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inFlight--;
    };
    ctx.res.once("close", release);
    try {
      await opts.guard(() => next());
    } catch (e) {
      if (!isDatabaseUnavailable(e)) throw e;
      opts.logger.warn({ path: ctx.path, method: ctx.method }, "database unavailable; answered 503");
      answer(ctx, "database");
    }
  };
}
