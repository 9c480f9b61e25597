import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import accepts from "accepts";
import { onceAnswered, type Logger } from "@altalune/core";
import { freshNonce, securityHeaderList } from "../security/headers.js";
import { unavailableAnswer } from "./answer.js";
import { RETRY_AFTER_SECONDS } from "./unavailable.js";

export interface AdmissionOptions {
  /** Requests served at once (MAX_CALLS_IN_FLIGHT); one more is answered 503 at once. */
  maxInFlight: number;
  brand: string;
  /** Adds Strict-Transport-Security, as the security headers middleware does. */
  production: boolean;
  /** Counts a refusal as the metrics middleware counts every request it sees (it sees none of these). */
  countRefusal: (path: string, method: string | undefined, status: number, seconds: number) => void;
  logger: Logger;
}

/** Liveness and readiness are never counted nor refused: a probe must see the real state. */
const PROBES = new Set(["/healthz", "/readyz"]);

/**
 * The in-flight limit, in front of Koa (issue 12): at most `maxInFlight` requests are served at
 * once, counted from arrival until the handler has settled and the response is finished or its
 * connection closed (oidc-provider may still be writing after our middleware returned); one more
 * is answered 503 + Retry-After at once, in the caller's form (see unavailableAnswer).
 *
 * Why before Koa: a refusal costs the CPU the admitted requests need, and at four times the
 * sustainable rate three requests in four are refusals, on the same event loop as the admitted
 * ones. Through Koa's middleware chain (metrics, tracing span, security headers, routing context)
 * a refusal cost ~64 µs, here ~47 µs (bench/RESULTS.md, 2026-12-03): one header map and one
 * prebuilt body. A refusal is counted in altalune_http_requests_total like any answer, but it gets
 * no trace span (a flood of refusals would otherwise multiply the overload onto the collector).
 */
export function admission(opts: AdmissionOptions, next: (req: IncomingMessage, res: ServerResponse) => unknown): RequestListener {
  let inFlight = 0;

  const refuse = (req: IncomingMessage, res: ServerResponse, path: string) => {
    const started = performance.now();
    const nonce = freshNonce();
    const answer = unavailableAnswer(
      "overloaded",
      { path, prefersJson: () => accepts(req).type(["html", "json"]) === "json" },
      { brand: opts.brand, nonce, ...(req.method === "GET" && req.url !== undefined ? { retryHref: req.url } : {}) },
    );
    const headers: Record<string, string> = Object.fromEntries(securityHeaderList(nonce, { production: opts.production }));
    headers["retry-after"] = String(RETRY_AFTER_SECONDS);
    headers["cache-control"] = "no-store";
    headers["content-type"] = answer.contentType;
    headers["content-length"] = String(Buffer.byteLength(answer.body));
    res.writeHead(503, headers);
    res.end(req.method === "HEAD" ? undefined : answer.body);
    opts.logger.debug({ path, inFlight }, "auth server at its in-flight limit; request refused");
    opts.countRefusal(path, req.method, 503, (performance.now() - started) / 1000);
  };

  // A request holds its slot until its handler has settled *and* its answer is done (onceAnswered:
  // the response closed, or its connection): the handler may still be working after the client
  // went away.
  const admit = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    let answered = false;
    let settled = false;
    const release = () => {
      if (answered && settled) inFlight--;
    };
    onceAnswered(req, res, () => {
      answered = true;
      release();
    });
    const finished = () => {
      settled = true;
      release();
    };
    let handled: unknown;
    try {
      handled = next(req, res);
    } catch {
      handled = undefined;
    }
    void Promise.resolve(handled).then(finished, finished);
  };

  return (req, res) => {
    const url = req.url ?? "/";
    // Probes come in origin form ("/readyz"); any other form is counted like every request.
    if (req.method === "GET" && url.startsWith("/") && PROBES.has(pathOf(url))) return void next(req, res);
    const path = pathOf(url);
    if (inFlight >= opts.maxInFlight) return refuse(req, res, path);
    admit(req, res);
  };
}

/** The request's path, for the form of a refusal (origin form as Koa's ctx.path reads it; absolute form parsed). */
function pathOf(url: string): string {
  if (!url.startsWith("/")) {
    try {
      return new URL(url).pathname;
    } catch {
      return url;
    }
  }
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}
