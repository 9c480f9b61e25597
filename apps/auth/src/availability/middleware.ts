import type { Context, Middleware } from "koa";
import type { Logger } from "@altalune/core";
import { pageNonce } from "../views/send-page.js";
import { unavailableAnswer } from "./answer.js";
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, type UnavailableCause } from "./unavailable.js";

export interface AvailabilityOptions {
  /** Bounds a request's wait on an unreachable database (databaseCallGuard of packages/db). */
  guard: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Whether the database answers (readiness). */
  databaseAvailable: () => boolean;
  /** True once shutdown has begun (readiness 503 while the listener still serves). */
  draining: () => boolean;
  brand: string;
  logger: Logger;
}

/** Liveness and readiness are never guarded: a probe must see the real state. */
const PROBES = new Set(["/healthz", "/readyz"]);

/**
 * The auth server's answer to "not now" (issue 12): a database outage is answered 503 with
 * Retry-After in the form the caller understands — OAuth JSON `temporarily_unavailable` at the
 * OAuth endpoints, problem+json at the BFF, a "temporarily unavailable, try again" page in the
 * browser — instead of a 500, an error page or a hang. (Overload is refused before Koa, by the
 * in-flight gate in admission.ts, in the same forms.)
 *
 * - Every request runs under the database call guard: once it has waited DB_UNAVAILABLE_TIMEOUT_MS
 *   on an unreachable database it is answered 503 and its remaining queries are dropped.
 * - Any database unavailability thrown by our routes (or by oidc-provider calls they make) is
 *   answered the same way. oidc-provider's own endpoints answer it themselves (see
 *   OidcTemporarilyUnavailable); this is the net for everything else.
 * - /readyz follows the database's health and turns 503 as soon as shutdown begins.
 */
export function availability(opts: AvailabilityOptions): Middleware {
  const answer = (ctx: Context, cause: UnavailableCause) => {
    // The response may have been started by oidc-provider or a route that took over the socket.
    if (ctx.res.headersSent || ctx.res.writableEnded) return;
    ctx.respond = true;
    ctx.set("retry-after", String(RETRY_AFTER_SECONDS));
    ctx.set("cache-control", "no-store");
    const { contentType, body } = unavailableAnswer(
      cause,
      // A browser sends text/html or nothing useful: a page unless JSON is preferred.
      { path: ctx.path, prefersJson: () => ctx.accepts("html", "json") === "json" },
      { brand: opts.brand, ...pageNonce(ctx), ...(ctx.method === "GET" ? { retryHref: ctx.originalUrl } : {}) },
    );
    ctx.status = 503;
    ctx.set("content-type", contentType);
    ctx.body = body;
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
    try {
      await opts.guard(() => next());
    } catch (e) {
      if (!isDatabaseUnavailable(e)) throw e;
      opts.logger.warn({ path: ctx.path, method: ctx.method }, "database unavailable; answered 503");
      answer(ctx, "database");
    }
  };
}
